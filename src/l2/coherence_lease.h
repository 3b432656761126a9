// CoherenceLease: whether this instance may trust cached answers right now (docs/adr/0003).
// The heartbeat renews it each time one of this instance's own heartbeats has been both accepted
// by Redis (every write of its fence pipeline answered without an error) and heard back on the
// invalidation channel; the lease then runs until that heartbeat's send time plus `length`.
// Pub/Sub delivers in order, so hearing a heartbeat sent at t proves that every change
// acknowledged before t has reached this instance's L1: while the lease is held, an L1 answer is
// at most `length` behind the deployment, whatever the network does (silence included).
// Anything that may have lost a message (the channel dropped, an unreadable push) revokes it, and
// L1 must then be flushed before the lease is renewed again (flush_needed()); that is also the
// state it starts in, since nothing was heard before the first subscription.
// Thread-safe: Held() is one atomic load and one clock read, from any thread. Renew and Revoke
// are called from one thread (the Redis tier's).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "util/check.h"

namespace keycache {

class CoherenceLease {
 public:
  using Clock = std::chrono::steady_clock;

  explicit CoherenceLease(std::chrono::milliseconds length) : length_(length) {
    KC_CHECK(length.count() > 0);
  }

  bool Held() const { return Held(Clock::now()); }
  bool Held(Clock::time_point now) const {
    return now.time_since_epoch().count() < until_.load(std::memory_order_acquire);
  }
  // True after Revoke() (and before the first Renew): the caller flushes L1, then renews.
  bool flush_needed() const { return flush_needed_.load(std::memory_order_acquire); }
  // Extends the lease to `sent + length` (never shortens it) and clears flush_needed().
  void Renew(Clock::time_point sent);
  void Revoke();

  std::chrono::milliseconds length() const { return length_; }
  // Time left; negative once lapsed.
  std::chrono::nanoseconds Remaining(Clock::time_point now = Clock::now()) const {
    return std::chrono::nanoseconds(until_.load(std::memory_order_acquire) -
                                    now.time_since_epoch().count());
  }

 private:
  const std::chrono::milliseconds length_;
  std::atomic<Clock::rep> until_{0};  // steady_clock ticks (ns); 0 = never held
  std::atomic<bool> flush_needed_{true};
};

}  // namespace keycache
