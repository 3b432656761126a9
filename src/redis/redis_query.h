// QueryRedisOnce: one command on a short-lived connection (connect, handshake, one request, one
// reply, close), bounded by connect_timeout + command_timeout. For rare questions to a server the
// pool does not talk to, such as asking a Sentinel where the primary is. Runs on the calling
// coroutine's executor; no shared state.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <optional>
#include <string>

#include "redis/redis_options.h"
#include "redis/redis_request.h"
#include "redis/resp_reply.h"

namespace keycache {

struct RedisQueryResult {
  std::optional<RedisReply> reply;  // engaged on success (possibly an error reply)
  std::string error;                // why there is no reply, for humans
  bool auth_failed = false;         // the server refused our credentials
};

// Connects to options.host:options.port (`tls` null: plain TCP; it must outlive the call) and
// sends the single command in `request`.
boost::asio::awaitable<RedisQueryResult> QueryRedisOnce(const RedisOptions& options,
                                                        boost::asio::ssl::context* tls,
                                                        RedisRequest request);

}  // namespace keycache
