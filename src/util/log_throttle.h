// LogThrottle: lets a repeated log line through at most once per interval and counts the ones it
// held back, so a stream of bad input (an attacker publishing garbage, say) cannot flood the log.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace keycache {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LogThrottle(std::chrono::milliseconds interval) : interval_(interval) {}

  // True when a line may be written now; `suppressed` then receives how many were held back
  // since the last one written.
  bool Allow(std::uint64_t& suppressed, Clock::time_point now = Clock::now()) {
    const Clock::rep t = now.time_since_epoch().count();
    Clock::rep next = next_.load(std::memory_order_relaxed);
    if (t < next || !next_.compare_exchange_strong(next, t + Ticks(), std::memory_order_acq_rel)) {
      held_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    suppressed = held_.exchange(0, std::memory_order_relaxed);
    return true;
  }

 private:
  Clock::rep Ticks() const {
    return std::chrono::duration_cast<Clock::duration>(interval_).count();
  }
  const std::chrono::milliseconds interval_;
  std::atomic<Clock::rep> next_{0};
  std::atomic<std::uint64_t> held_{0};
};

}  // namespace keycache
