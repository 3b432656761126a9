// RedisClusterClient: a Redis Cluster behind the RedisCommands contract. It keeps the slot map
// (CLUSTER SHARDS; refreshed periodically and, after a short pause, whenever something suggests
// the topology changed: MOVED, CLUSTERDOWN, TRYAGAIN, a connection failure), one RedisClient pool
// per primary, and splits each pipeline by node: every command goes to the primary of its first
// key's slot (PUBLISH to that of its channel, WAIT with the command before it, commands without
// a key to any primary), the sub-pipelines run concurrently, MOVED (map updated, refresh
// scheduled) and ASK (ASKING + the command on the target, map unchanged) are followed up to
// max_redirects times, and the replies come back in the original order. Commands after a
// key-less command (PUBLISH, PING, ...) and the key-less command itself wait until every command
// before it has replied.
//
// Every public member is thread-safe. The executors must each be single-threaded; the map is
// refreshed on the last one.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "redis/redis_commands.h"
#include "redis/redis_endpoint.h"
#include "redis/redis_options.h"
#include "util/log.h"

namespace keycache {

namespace redis_detail {
class ClusterState;
}  // namespace redis_detail

struct RedisClusterOptions {
  std::vector<RedisEndpoint> seeds;  // REDIS_CLUSTER_NODES: where to read the map first
  // Each node's connection settings (auth, TLS, pool size per primary — at least one per
  // executor —, timeouts); host and port are replaced by the node's. db must be 0.
  RedisOptions node;
  int max_redirects = 5;
  std::chrono::milliseconds refresh_interval{1'000};
  std::chrono::milliseconds refresh_min_gap{100};  // between two refreshes asked for by events
  // Called when the set of primaries changes: a failover (a replica promoted, its primary gone)
  // or a node added or removed; not for the first map. On the refresh executor, or on a caller's
  // executor when a MOVED names a node that was no primary (before the command is redirected).
  std::function<void(const std::string& what)> on_primaries_changed;
};

class RedisClusterClient final : public RedisCommands {
 public:
  RedisClusterClient(std::vector<boost::asio::any_io_executor> executors,
                     RedisClusterOptions options, Logger& log);
  ~RedisClusterClient() override;  // Stop()s
  RedisClusterClient(const RedisClusterClient&) = delete;
  RedisClusterClient& operator=(const RedisClusterClient&) = delete;

  // Starts reading the map (and then the pools) in the background; never blocks. Idempotent.
  void Start();
  // Closes every pool; pending calls fail with Errc::kUnavailable. Idempotent. Blocks up to ~1 s
  // per pool; not from one of the executors' threads.
  void Stop();
  // As RedisClient::ReleaseIo, for every pool.
  void ReleaseIo();

  boost::asio::awaitable<Result<std::vector<RedisReply>>> Execute(RedisRequest request) override;
  std::vector<std::string> Shards() const override;  // "host:port" of each primary
  boost::asio::awaitable<Result<std::vector<RedisReply>>> ExecuteOnShard(
      std::string shard, RedisRequest request) override;

  bool connected() const override;  // a complete map, and every primary's pool has a connection
  std::size_t connected_count() const override;
  std::size_t pool_size() const override;
  std::string last_error() const override;
  bool auth_failed() const override;

  // Every node of the current map (primaries first), or the seeds before the first map: where
  // a subscriber can go.
  std::vector<RedisEndpoint> Nodes() const;
  std::uint64_t map_refreshes() const;  // slot maps read so far
  // Asks for a refresh soon (after refresh_min_gap since the last one).
  void RequestRefresh();

 private:
  std::shared_ptr<redis_detail::ClusterState> state_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace keycache
