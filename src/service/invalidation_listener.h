// InvalidationListener: applies the other instances' invalidation messages to this instance's
// L1 and keeps the L1 honest about what it may have missed. While the channel is down, no other
// instance can reach us: L1 is flushed and its entries live at most `degraded_max_age_ms`; when
// the subscription is confirmed again L1 is flushed once more (messages sent during the gap are
// lost) and entries may live `max_age_ms` (the backstop) again. It starts in the degraded state.
// Receivers measure each message's propagation lag from the sender's wall-clock stamp.
// Thread-safe (the subscriber calls it on its thread; health checks read it from others).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "cache/l1_cache.h"
#include "metrics/histogram.h"
#include "util/log.h"

namespace keycache {

class InvalidationListener {
 public:
  InvalidationListener(L1Cache& l1, std::string instance_id, TimeMs max_age_ms,
                       TimeMs degraded_max_age_ms, Histogram& lag_seconds, Logger& log);

  void OnMessage(std::string_view payload);
  void OnSubscribed();
  void OnDisconnected();

  bool channel_up() const { return up_.load(std::memory_order_acquire); }
  std::uint64_t received() const { return received_.load(std::memory_order_relaxed); }
  std::uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  L1Cache& l1_;
  const std::string instance_id_;
  const TimeMs max_age_ms_;
  const TimeMs degraded_max_age_ms_;
  Histogram& lag_seconds_;
  Logger& log_;
  std::atomic<bool> up_{false};
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> rejected_{0};
};

}  // namespace keycache
