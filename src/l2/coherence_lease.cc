#include "l2/coherence_lease.h"

namespace keycache {

void CoherenceLease::Renew(Clock::time_point sent) {
  const Clock::rep until = (sent + length_).time_since_epoch().count();
  Clock::rep current = until_.load(std::memory_order_relaxed);
  flush_needed_.store(false, std::memory_order_release);
  while (current < until &&
         !until_.compare_exchange_weak(current, until, std::memory_order_acq_rel)) {
  }
}

void CoherenceLease::Revoke() {
  // Lapse first: no reader may trust L1 from here on, until a flush and a renewal.
  until_.store(0, std::memory_order_release);
  flush_needed_.store(true, std::memory_order_release);
}

}  // namespace keycache
