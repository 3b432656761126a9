// RedisSubscriber: one dedicated Pub/Sub connection (RESP2 SUBSCRIBE to one channel) with its own
// reconnect loop and a PING liveness check. Public members are thread-safe; handlers run on the
// subscriber's executor, which must be single-threaded.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_endpoint.h"
#include "redis/redis_options.h"
#include "util/log.h"

namespace keycache {

namespace redis_detail {
class SubscriberLoop;
}  // namespace redis_detail

class RedisSubscriber {
 public:
  struct Handlers {
    std::function<void(std::string_view payload)> on_message;  // on the subscriber's executor
    std::function<void()> on_subscribed;    // after each (re)subscription is confirmed
    std::function<void()> on_disconnected;  // each time an established subscription is lost
    // A push that is not a message or confirmation on our channel (wrong type or shape, another
    // channel): whoever listens may have lost a message. On the subscriber's executor.
    std::function<void(std::string_view what)> on_anomaly;
    // Where to connect, asked before each attempt (e.g. a Redis Cluster's nodes: every node
    // hears every PUBLISH); the attempts go round the list, so a dead node is left for the next.
    // Empty function or list: options.host and options.port. On the subscriber's executor.
    std::function<std::vector<RedisEndpoint>()> nodes;
  };

  RedisSubscriber(boost::asio::any_io_executor executor, RedisOptions options, std::string channel,
                  Handlers handlers, Logger& log,
                  std::chrono::milliseconds ping_interval = std::chrono::seconds(1));
  ~RedisSubscriber();  // Stop()s
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  void Start();  // never blocks; idempotent
  // Closes the connection; handlers are not called once Stop() has begun (one already running
  // finishes). Idempotent. Blocks until the loop has finished or ~1 s.
  void Stop();

  bool subscribed() const;
  // steady_clock time of the last byte received (message, subscribe confirmation or PING
  // reply); time_point{} before the first. It PINGs every ping_interval while subscribed and treats
  // a missing reply within command_timeout as a dead link (disconnect + on_disconnected +
  // reconnect).
  std::chrono::steady_clock::time_point last_sign_of_life() const;
  std::string last_error() const;

 private:
  std::shared_ptr<redis_detail::SubscriberLoop> loop_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace keycache
