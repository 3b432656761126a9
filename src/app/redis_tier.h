// RedisTier: the wiring of the Redis tier (docs/adr/0003-redis-tier.md): the connection pool,
// the circuit breaker and its prober, the L2 cache, the invalidation publisher (an
// InvalidationSink) and the subscriber that keeps this instance's L1 coherent, plus their
// metrics and health. Part of the composition root: it only builds and connects components.
// Start/Stop are called by the owner; everything else is thread-safe.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "l2/circuit_breaker.h"
#include "l2/l2_cache.h"
#include "l2/l2_metrics.h"
#include "l2/sealed_entry.h"
#include "metrics/registry.h"
#include "redis/redis_client.h"
#include "redis/redis_subscriber.h"
#include "service/invalidation_listener.h"
#include "service/redis_invalidator.h"
#include "service/redis_status.h"

namespace keycache {

RedisOptions RedisOptionsFrom(const RedisSettings& s);

class RedisTier final : public RedisStatusSource {
 public:
  // `io_executors`: the HTTP server's threads; the pool spreads its connections over them and
  // over the tier's own thread. References must outlive the tier.
  RedisTier(const Config& config, std::vector<boost::asio::any_io_executor> io_executors,
            L1Cache& l1, Registry& registry, Logger& log);
  ~RedisTier() override;

  // Connects in the background and waits up to `wait` for a first connection. Only a refused
  // authentication is an error (the operator must fix it); an unreachable Redis is not: the
  // service starts degraded and the prober closes the breaker when Redis answers.
  Result<void> Start(std::chrono::milliseconds wait, std::string& error_message);
  // Idempotent. Call after the HTTP server's threads have returned (its executors run no more)
  // and before it is destroyed.
  void Stop();

  L2Cache& l2() { return l2_; }
  InvalidationSink& invalidator() { return invalidator_; }
  RedisStatus Status() const override;

 private:
  void ProbeLoop();
  void ProbeOnce();
  double ChannelSilenceSeconds() const;  // -1 before the channel's first sign of life

  const RedisSettings& settings_;
  const std::chrono::seconds count_interval_;
  Logger& log_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  CircuitBreaker breaker_;
  L2Metrics metrics_;
  const EntrySealer sealer_;
  RedisClient client_;
  L2Cache l2_;
  RedisInvalidator invalidator_;
  Histogram& lag_;
  InvalidationListener listener_;
  RedisSubscriber subscriber_;

  std::thread io_thread_;
  std::thread prober_;
  mutable std::mutex mu_;  // guards stop_ (with cv_) and counts_
  std::condition_variable cv_;
  bool stop_ = false;
  std::optional<L2Counts> counts_;
  std::chrono::steady_clock::time_point counted_at_{};
  std::atomic<bool> stopped_{false};
};

}  // namespace keycache
