#include "l2/circuit_breaker.h"

namespace keycache {

bool CircuitBreaker::RecordFailure(std::string_view reason) {
  const int n = failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n < threshold_) return false;
  return Open(reason);
}

bool CircuitBreaker::Open(std::string_view reason) {
  {
    std::lock_guard lock(mu_);
    reason_ = reason;
  }
  const bool was_open = open_.exchange(true, std::memory_order_acq_rel);
  if (!was_open) opened_.fetch_add(1, std::memory_order_relaxed);
  return !was_open;
}

bool CircuitBreaker::Close() {
  failures_.store(0, std::memory_order_relaxed);
  return open_.exchange(false, std::memory_order_acq_rel);
}

std::string CircuitBreaker::reason() const {
  std::lock_guard lock(mu_);
  return reason_;
}

}  // namespace keycache
