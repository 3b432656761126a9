// RedisTier: the Redis tier as one component (docs/adr/0003-redis-tier.md) — the connection pool
// (one Redis, or a Redis Cluster: RedisClusterClient), the circuit breaker, the coherence lease and
// its heartbeat, the L2 cache (the SharedCache the service reads), the invalidator (an
// InvalidationSink) and the subscriber with its listener that keep this instance's L1 coherent,
// plus their metrics and health. Built from RedisSettings; the tier runs its own thread for the
// heartbeat, the subscriber, fences and fire-and-forget writes. Start/Stop are called by the owner;
// everything else is thread-safe.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cache/l1_cache.h"
#include "config/redis_settings.h"
#include "l2/circuit_breaker.h"
#include "l2/coherence_lease.h"
#include "l2/heartbeat.h"
#include "l2/invalidation_listener.h"
#include "l2/l2_cache.h"
#include "l2/l2_metrics.h"
#include "l2/redis_invalidator.h"
#include "l2/sealed_entry.h"
#include "l2/tier_status.h"
#include "metrics/counter.h"
#include "metrics/registry.h"
#include "redis/redis_client.h"
#include "redis/redis_cluster_client.h"
#include "redis/redis_subscriber.h"
#include "redis/sentinel_locator.h"

namespace keycache {

RedisOptions RedisOptionsFrom(const RedisSettings& s);
// Sentinel mode (s.sentinel()): the locator of the primary, asking on `executor`; else null.
std::shared_ptr<SentinelLocator> SentinelLocatorFrom(const RedisSettings& s,
                                                     boost::asio::any_io_executor executor,
                                                     Logger& log);
// For REDIS_CLUSTER_ENABLED: the seeds (REDIS_CLUSTER_NODES, then REDIS_HOST:REDIS_PORT when
// set) and each node's connection settings.
RedisClusterOptions RedisClusterOptionsFrom(const RedisSettings& s);

struct RedisTierOptions {
  const RedisSettings& settings;
  std::string pepper;  // seals the entries
  L2Options l2;
  std::chrono::seconds count_interval{30};  // SCAN entry counts for health
};

class RedisTier final : public TierStatusSource {
 public:
  // `io_executors`: the HTTP server's threads; the pool spreads its connections over them and
  // over the tier's own thread. References must outlive the tier.
  RedisTier(RedisTierOptions options, std::vector<boost::asio::any_io_executor> io_executors,
            L1Cache& l1, Registry& registry, Logger& log);
  ~RedisTier() override;

  // Connects in the background and waits up to `wait` for the coherence lease. Only a refused
  // authentication is an error (the operator must fix it); an unreachable Redis is not: the
  // service starts degraded (the database answers) and the heartbeat picks Redis up when it
  // answers.
  Result<void> Start(std::chrono::milliseconds wait, std::string& error_message);
  // Idempotent. Call after the HTTP server's threads have returned (its executors run no more)
  // and before it is destroyed.
  void Stop();

  // Asks every other instance to warm its caches (a PUBLISH on the invalidation channel);
  // `sent(true)` once Redis took it. Never replayed: a warm-up is not a change.
  void RequestWarm(std::function<void(bool)> sent);
  // See InvalidationListener::SetWarmHandler. Before Start.
  void SetWarmHandler(std::function<void()> on_warm) {
    listener_.SetWarmHandler(std::move(on_warm));
  }

  SharedCache& shared() { return l2_; }
  L2Cache& l2() { return l2_; }
  InvalidationSink& invalidator() { return invalidator_; }
  const std::string& instance_id() const { return invalidator_.instance_id(); }
  TierStatus Status() const override;

 private:
  boost::asio::awaitable<void> CountLoop();
  // On the tier's thread, after the locator named another primary: a failover may have lost
  // invalidations and INCRs (docs/adr/0003, "Sentinel").
  void OnPrimaryChanged();
  RedisOptions ConnectionOptions() const;
  // The standalone client or the cluster client, whichever the settings ask for.
  RedisCommands& MakeClient(std::vector<boost::asio::any_io_executor> executors);
  void StartClient();
  void StopClient();
  std::function<std::vector<RedisEndpoint>()> SubscriberNodes();
  double ChannelSilenceSeconds() const;  // -1 before the channel's first sign of life

  const RedisSettings& settings_;
  const std::chrono::seconds count_interval_;
  Logger& log_;
  L1Cache& l1_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  CircuitBreaker breaker_;
  CoherenceLease lease_;
  L2Metrics metrics_;
  const EntrySealer sealer_;
  const std::shared_ptr<SentinelLocator> locator_;  // Sentinel mode only
  Counter* failovers_total_ = nullptr;              // Sentinel mode only
  std::optional<int> locator_listener_;             // Start/Stop only
  std::uint64_t failovers_handled_ = 0;             // the tier's thread only
  std::unique_ptr<RedisClient> single_;             // a standalone Redis, or
  std::unique_ptr<RedisClusterClient> cluster_;     // a Redis Cluster
  RedisCommands& client_;                           // the one of the two in use
  L2Cache l2_;
  RedisInvalidator invalidator_;
  Heartbeat heartbeat_;
  Histogram& lag_;
  InvalidationListener listener_;
  RedisSubscriber subscriber_;
  boost::asio::steady_timer count_timer_;

  std::thread io_thread_;
  mutable std::mutex mu_;  // guards counts_
  std::optional<L2Counts> counts_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace keycache
