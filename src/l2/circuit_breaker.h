// CircuitBreaker: whether the service may call Redis right now. Closed: calls go through and
// consecutive failures are counted; at `failure_threshold` (or when told that no connection is
// up) it opens. Open: every caller skips Redis at once (the answer comes from L1 and the
// database, marked BYPASS) and a background prober (L2Tier) pings Redis every probe interval;
// the first successful probe closes it. Callers never wait on the breaker.
// Thread-safe: the hot path reads one atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "util/check.h"

namespace keycache {

class CircuitBreaker {
 public:
  explicit CircuitBreaker(int failure_threshold) : threshold_(failure_threshold) {
    KC_CHECK(failure_threshold >= 1);
  }

  bool open() const { return open_.load(std::memory_order_acquire); }
  bool allows() const { return !open(); }

  void RecordSuccess() { failures_.store(0, std::memory_order_relaxed); }
  // Returns true when this failure opened the breaker.
  bool RecordFailure(std::string_view reason);
  // Opens at once (the connection pool reports no live connection, or start-up found Redis
  // unreachable). Returns true when it was closed before.
  bool Open(std::string_view reason);
  // Closes after a successful probe. Returns true when it was open before.
  bool Close();

  std::string reason() const;  // why it last opened; "" if never
  std::uint64_t opened_count() const { return opened_.load(std::memory_order_relaxed); }

 private:
  const int threshold_;
  std::atomic<bool> open_{false};
  std::atomic<int> failures_{0};
  std::atomic<std::uint64_t> opened_{0};
  mutable std::mutex mu_;  // guards reason_
  std::string reason_;
};

}  // namespace keycache
