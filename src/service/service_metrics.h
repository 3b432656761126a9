// ServiceMetrics: the counters and histograms the service layer feeds, created once at wiring
// time with label values from bounded sets (cache types, outcome codes, operations, tiers), so the
// hot path only bumps pre-resolved per-thread counters. A lookup is a hit when a cache tier (L1 or
// Redis) answered it and a miss when the database did; cache_operation_duration_seconds times
// lookups by tier (L1 lookups only one in kL1TimingSample per thread: see L1LookupTimer) as well
// as the operations that touch the store. Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

#include "cache/l1_cache.h"
#include "cache/usage_counter.h"
#include "core/api_key.h"
#include "core/verify_code.h"
#include "metrics/hit_rate_window.h"
#include "metrics/registry.h"
#include "service/cache_status.h"

namespace keycache {

enum class CacheOp { kLoad, kWarm, kFlush, kInvalidate };
inline constexpr int kCacheOpCount = 4;
inline constexpr int kCacheTypeCount = 4;
inline constexpr int kTierCount = 3;  // AnsweredBy: l1, redis, database

// One L1 lookup in this many (per thread) is timed. An L1 hit costs well under a microsecond and
// two clock reads would be a visible share of it; the sampled lookups give the same quantiles.
inline constexpr std::uint32_t kL1TimingSample = 64;

class ServiceMetrics {
 public:
  using Timer = std::chrono::steady_clock::time_point;

  ServiceMetrics(Registry& registry, HitRateWindow& window);

  void RecordOutcome(VerifyCode code, CacheStatus cache) {
    outcomes_[static_cast<int>(code)][static_cast<int>(cache)]->Inc();
  }
  // A validation lookup and who answered it; `negative`: the answer was "no such key" (a
  // known-unknown id), counted as key_type="unknown_key" when a cache answered it.
  void ValidationLookup(AnsweredBy by, bool negative);
  // The same with the caller's reading of the service clock (the hit path reads it once).
  void ValidationLookup(AnsweredBy by, bool negative, TimeMs now);
  // Scope decisions live in L1 only.
  void ScopeLookup(bool hit) { (hit ? scope_hit_ : scope_miss_)->Inc(); }
  void UserListLookup(AnsweredBy by) { user_list_[static_cast<int>(by)]->Inc(); }
  void StoreRead() { store_reads_->Inc(); }
  // An L1 hit whose presented key this thread recognised by its proof tag: no HMAC computed.
  void HmacSkipped() { hmac_skipped_->Inc(); }
  // A store read that an invalidation (or a clear) overtook: it filled nothing, and the flight
  // read again (from the fourth such read on, it answered the waiters who asked before it began).
  void FillOvertaken(CacheType type) { overtaken_[static_cast<int>(type)]->Inc(); }
  void ForgedKey(KeyFormat format) {
    (format == KeyFormat::kTagged ? forged_tagged_ : forged_legacy_)->Inc();
  }
  void LegacyIdsReload() { legacy_reloads_->Inc(); }

  static Timer StartTimer() { return std::chrono::steady_clock::now(); }
  void ObserveOperation(CacheOp op, CacheType type, Timer start);
  // A lookup of `type` (validation or user_list) that `by` answered, started at `start`.
  void ObserveLookup(CacheType type, AnsweredBy by, Timer start);

  // Times one L1 lookup in kL1TimingSample on the calling thread: the others cost a thread-local
  // increment and no clock read. Use on one thread (a stack object).
  class L1LookupTimer {
   public:
    explicit L1LookupTimer(ServiceMetrics& metrics) : metrics_(metrics), timed_(Sampled()) {
      if (timed_) start_ = StartTimer();
    }
    void Done(CacheType type) {
      if (timed_) metrics_.ObserveLookup(type, AnsweredBy::kL1, start_);
    }

   private:
    static bool Sampled() {
      thread_local std::uint32_t n = 0;
      return ++n % kL1TimingSample == 0;
    }
    ServiceMetrics& metrics_;
    const bool timed_;
    Timer start_{};
  };
  void CacheError(CacheType type, CacheOp op) {
    errors_[static_cast<int>(type)][static_cast<int>(op)]->Inc();
  }

  // Exposes the live sizes of the caches as cache_size_entries{cache_type} and
  // cache_memory_bytes; `l1` and `usage` must outlive every Render().
  static void RegisterCacheGauges(Registry& registry, const L1Cache& l1, const UsageCounter& usage);

 private:
  HitRateWindow& window_;
  std::array<std::array<Counter*, 3>, kVerifyCodeCount> outcomes_{};
  // By AnsweredBy; the kDatabase entries count cache_misses_total.
  std::array<Counter*, kTierCount> validation_{};
  std::array<Counter*, kTierCount> negative_{};
  std::array<Counter*, kTierCount> user_list_{};
  Counter* scope_hit_ = nullptr;
  Counter* scope_miss_ = nullptr;
  Counter* store_reads_ = nullptr;
  Counter* hmac_skipped_ = nullptr;
  std::array<Counter*, kCacheTypeCount> overtaken_{};
  Counter* forged_tagged_ = nullptr;
  Counter* forged_legacy_ = nullptr;
  Counter* legacy_reloads_ = nullptr;
  std::array<std::array<Histogram*, kCacheTypeCount>, kCacheOpCount> durations_{};
  // operation="lookup", by cache type and AnsweredBy (null where no such lookup exists).
  std::array<std::array<Histogram*, kTierCount>, kCacheTypeCount> lookups_{};
  std::array<std::array<Counter*, kCacheOpCount>, kCacheTypeCount> errors_{};
};

std::string_view CacheOpName(CacheOp op);
// "l1", "redis", "database": the `tier` label.
std::string_view TierName(AnsweredBy by);

}  // namespace keycache
