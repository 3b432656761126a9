// InvalidationListener: what this instance does with each push on the invalidation channel.
// Another instance's change is applied to L1 (and its propagation lag recorded from the sender's
// wall-clock stamp); this instance's own heartbeat renews the coherence lease (Heartbeat::OnHeard);
// another instance's heartbeat marks it alive (peers()). A lost subscription, or a push that is not
// a well-formed message of ours (wrong shape, undecodable payload: possibly a lost invalidation),
// revokes the lease, so L1 is not trusted and is flushed before it is again; such pushes are
// counted and logged at most once per second.
// Handlers run on the subscriber's executor (the tier's thread); accessors are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cache/l1_cache.h"
#include "l2/heartbeat.h"
#include "metrics/histogram.h"
#include "util/log.h"
#include "util/log_throttle.h"

namespace keycache {

class InvalidationListener {
 public:
  InvalidationListener(L1Cache& l1, LeaseKeeper& lease, std::string instance_id,
                       Histogram& lag_seconds, Logger& log);

  // Called (on the channel's thread) when another instance asks every instance to warm its
  // caches. Set at wiring time, before the channel starts.
  void SetWarmHandler(std::function<void()> on_warm) { on_warm_ = std::move(on_warm); }

  void OnMessage(std::string_view payload);
  void OnSubscribed();
  void OnDisconnected();
  // A push that is not a message on our channel. `what` says how it was wrong.
  void OnAnomaly(std::string_view what);

  bool channel_up() const { return up_.load(std::memory_order_acquire); }
  std::uint64_t received() const { return received_.load(std::memory_order_relaxed); }
  std::uint64_t anomalies() const { return anomalies_.load(std::memory_order_acquire); }
  // Other instances whose heartbeat was heard within `within`.
  std::size_t peers(std::chrono::milliseconds within = std::chrono::seconds(5)) const;

 private:
  static constexpr std::size_t kMaxPeers = 4096;

  void Apply(const CacheChange& c);
  void NotePeer(const std::string& source);

  L1Cache& l1_;
  LeaseKeeper& lease_;
  const std::string instance_id_;
  Histogram& lag_seconds_;
  Logger& log_;
  LogThrottle anomaly_log_{std::chrono::seconds(1)};
  std::function<void()> on_warm_;
  std::atomic<bool> up_{false};
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> anomalies_{0};
  mutable std::mutex mu_;  // guards peers_
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> peers_;
};

}  // namespace keycache
