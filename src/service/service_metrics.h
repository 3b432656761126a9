// ServiceMetrics: the counters and histograms the service layer feeds, created once at wiring
// time with label values from bounded sets (cache types, outcome codes, operations), so the hot
// path only bumps pre-resolved per-thread counters. Thread-safe.
#pragma once

#include <array>
#include <chrono>

#include "cache/l1_cache.h"
#include "cache/usage_counter.h"
#include "core/api_key.h"
#include "core/verify_code.h"
#include "metrics/hit_rate_window.h"
#include "metrics/registry.h"
#include "service/cache_status.h"

namespace keycache {

enum class LookupResult { kHit, kNegativeHit, kMiss };
enum class CacheOp { kLoad, kWarm, kFlush, kInvalidate };
inline constexpr int kCacheOpCount = 4;
inline constexpr int kCacheTypeCount = 4;

class ServiceMetrics {
 public:
  using Timer = std::chrono::steady_clock::time_point;

  ServiceMetrics(Registry& registry, HitRateWindow& window);

  void RecordOutcome(VerifyCode code, CacheStatus cache) {
    outcomes_[static_cast<int>(code)][static_cast<int>(cache)]->Inc();
  }
  void ValidationLookup(LookupResult r);
  void ScopeLookup(bool hit) { (hit ? scope_hit_ : scope_miss_)->Inc(); }
  void UserListLookup(bool hit) { (hit ? user_list_hit_ : user_list_miss_)->Inc(); }
  void StoreRead() { store_reads_->Inc(); }
  void ForgedKey(KeyFormat format) {
    (format == KeyFormat::kTagged ? forged_tagged_ : forged_legacy_)->Inc();
  }
  void LegacyIdsReload() { legacy_reloads_->Inc(); }

  static Timer StartTimer() { return std::chrono::steady_clock::now(); }
  void ObserveOperation(CacheOp op, CacheType type, Timer start);
  void CacheError(CacheType type, CacheOp op) {
    errors_[static_cast<int>(type)][static_cast<int>(op)]->Inc();
  }

  // Exposes the live sizes of the caches as cache_size_entries{cache_type} and
  // cache_memory_bytes; `l1` and `usage` must outlive every Render().
  static void RegisterCacheGauges(Registry& registry, const L1Cache& l1, const UsageCounter& usage);

 private:
  HitRateWindow& window_;
  std::array<std::array<Counter*, 3>, kVerifyCodeCount> outcomes_{};
  Counter* validation_hit_ = nullptr;
  Counter* negative_hit_ = nullptr;
  Counter* validation_miss_ = nullptr;
  Counter* scope_hit_ = nullptr;
  Counter* scope_miss_ = nullptr;
  Counter* user_list_hit_ = nullptr;
  Counter* user_list_miss_ = nullptr;
  Counter* store_reads_ = nullptr;
  Counter* forged_tagged_ = nullptr;
  Counter* forged_legacy_ = nullptr;
  Counter* legacy_reloads_ = nullptr;
  std::array<std::array<Histogram*, kCacheTypeCount>, kCacheOpCount> durations_{};
  std::array<std::array<Counter*, kCacheOpCount>, kCacheTypeCount> errors_{};
};

std::string_view CacheOpName(CacheOp op);

}  // namespace keycache
