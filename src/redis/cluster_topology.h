// Internal to RedisClusterClient: reading a cluster's slot map (CLUSTER SHARDS, or CLUSTER SLOTS
// from a server without it) over a one-shot connection to one node — for when no pooled
// connection answers (at start-up, or after the node we knew died). Runs on one executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <string>
#include <vector>

#include "redis/cluster_slots.h"
#include "redis/redis_options.h"
#include "redis/resp_reply.h"
#include "util/error.h"

namespace keycache::redis_detail {

struct TopologyFailure {
  std::string message;  // for humans
  bool auth_failed = false;
};

// The slot map from the replies to CLUSTER SHARDS and, when that was refused, CLUSTER SLOTS
// (pass the second only then; nullptr otherwise).
Result<SlotMap> SlotMapFromReplies(const RedisReply& shards, const RedisReply* slots,
                                   bool use_tls_port);

// Connects to `node` (options.host/port, with its auth and TLS), asks for the slot map and
// closes; bounded by connect_timeout + command_timeout. `tls` null: plain TCP.
boost::asio::awaitable<Result<SlotMap>> FetchSlotMap(RedisOptions node,
                                                     boost::asio::ssl::context* tls,
                                                     TopologyFailure& failure);

}  // namespace keycache::redis_detail
