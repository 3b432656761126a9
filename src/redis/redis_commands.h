// RedisCommands: what the Redis tier needs of "a Redis", implemented by RedisClient (one server)
// and RedisClusterClient (a Redis Cluster). Implementations are thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "redis/redis_request.h"
#include "redis/resp_reply.h"
#include "util/error.h"

namespace keycache {

class RedisCommands {
 public:
  virtual ~RedisCommands() = default;

  // Sends the pipeline and returns one reply per command, in order (error replies are values
  // of type kError). Commands on one key (one Cluster slot) are applied in pipeline order, and a
  // command without a key (PUBLISH, PING, ...) is sent only after every command before it has
  // replied, so whoever hears a PUBLISH can rely on the writes pipelined before it. Resumes on
  // the caller's executor; Errc::kUnavailable / kTimeout on transport failures.
  virtual boost::asio::awaitable<Result<std::vector<RedisReply>>> Execute(RedisRequest request) = 0;

  // Keyspace walks (SCAN) must visit every primary: one opaque name per primary ("" for a
  // single server), for ExecuteOnShard.
  virtual std::vector<std::string> Shards() const { return {std::string()}; }
  // Sends the whole pipeline to that one shard, unsplit (SCAN with its cursor). A name no longer
  // known fails with Errc::kUnavailable.
  virtual boost::asio::awaitable<Result<std::vector<RedisReply>>> ExecuteOnShard(
      std::string shard, RedisRequest request) {
    (void)shard;
    return Execute(std::move(request));
  }

  virtual bool connected() const = 0;  // commands can be sent (to every shard, for a cluster)
  virtual std::size_t connected_count() const = 0;
  virtual std::size_t pool_size() const = 0;
  // Why the last connection attempt failed, for humans ("" if none).
  virtual std::string last_error() const = 0;
  virtual bool auth_failed() const = 0;  // the last failure was an authentication refusal

  // Sentinel mode: the generation of the primary the commands go to (it changes with every
  // failover the client follows); 0 when the target cannot move that way.
  virtual std::uint64_t primary_generation() const { return 0; }
};

}  // namespace keycache
