// L2Metrics: the Redis tier's counters, registered once at wiring time:
//   keycache_l2_operations_total{operation,result}  every L2 call and how it ended
//   keycache_redis_breaker_opened_total             times the breaker opened
// Gauges that read live state (connection, breaker, lease, channel age) are registered by
// RedisTier, which owns that state. Thread-safe; the hot path bumps pre-resolved counters.
#pragma once

#include <array>

#include "metrics/registry.h"

namespace keycache {

enum class L2Op : int {
  kReadValidation,
  kWriteValidation,
  kReadUserList,
  kWriteUserList,
  kInvalidate,
  kUsage,
  kHeartbeat,
  kScan,
};
inline constexpr int kL2OpCount = 8;

enum class L2Result : int {
  kHit,      // a current, intact entry
  kMiss,     // nothing stored
  kStale,    // an entry sealed under an older generation
  kCorrupt,  // an entry that failed its seal (tampered or foreign)
  kOk,       // a write or command that succeeded
  kError,    // Redis failed or timed out
  kRefused,  // Redis answered with an error reply (READONLY, OOM, NOPERM, ...)
  kSkipped,  // the breaker was open (or the lease lapsed): nothing sent
};
inline constexpr int kL2ResultCount = 8;

class L2Metrics {
 public:
  explicit L2Metrics(Registry& registry);
  void Count(L2Op op, L2Result r) { ops_[static_cast<int>(op)][static_cast<int>(r)]->Inc(); }
  void BreakerOpened() { breaker_opened_->Inc(); }

 private:
  std::array<std::array<Counter*, kL2ResultCount>, kL2OpCount> ops_{};
  Counter* breaker_opened_ = nullptr;
};

}  // namespace keycache
