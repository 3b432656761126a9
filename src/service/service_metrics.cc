#include "service/service_metrics.h"

#include <string>

namespace keycache {
namespace {

constexpr CacheType kTypes[] = {CacheType::kValidation, CacheType::kScope, CacheType::kUserList,
                                CacheType::kUsage};
constexpr CacheOp kOps[] = {CacheOp::kLoad, CacheOp::kWarm, CacheOp::kFlush, CacheOp::kInvalidate};
constexpr CacheStatus kStatuses[] = {CacheStatus::kHit, CacheStatus::kMiss, CacheStatus::kBypass};

// The deployment guide's buckets for cache_operation_duration_seconds.
const std::vector<double> kGuideBuckets = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view CacheOpName(CacheOp op) {
  switch (op) {
    case CacheOp::kLoad:
      return "load";
    case CacheOp::kWarm:
      return "warm";
    case CacheOp::kFlush:
      return "flush";
    case CacheOp::kInvalidate:
      return "invalidate";
  }
  return "load";
}

ServiceMetrics::ServiceMetrics(Registry& registry, HitRateWindow& window) : window_(window) {
  auto& outcomes = registry.AddCounter("keycache_verifications_total",
                                       "Verifications by outcome code and cache status.",
                                       {"code", "cache_status"});
  for (int c = 0; c < kVerifyCodeCount; ++c) {
    for (CacheStatus s : kStatuses) {
      outcomes_[c][static_cast<int>(s)] = &outcomes.With(
          {std::string(VerifyCodeName(static_cast<VerifyCode>(c))), Lower(CacheStatusName(s))});
    }
  }
  auto& hits = registry.AddCounter("cache_hits_total", "Cache lookups answered from the cache.",
                                   {"cache_type", "key_type"});
  auto& misses =
      registry.AddCounter("cache_misses_total", "Cache lookups that had to go to the store.",
                          {"cache_type", "key_type"});
  // key_type says which kind of entry answered: a known key, a known-unknown key (negative
  // entry), or an owner's key list.
  validation_hit_ = &hits.With({"validation", "api_key"});
  negative_hit_ = &hits.With({"validation", "unknown_key"});
  validation_miss_ = &misses.With({"validation", "api_key"});
  scope_hit_ = &hits.With({"scope", "api_key"});
  scope_miss_ = &misses.With({"scope", "api_key"});
  user_list_hit_ = &hits.With({"user_list", "owner"});
  user_list_miss_ = &misses.With({"user_list", "owner"});
  store_reads_ =
      &registry
           .AddCounter("keycache_store_reads_total",
                       "Store reads made to fill the validation cache (after coalescing).")
           .With({});
  auto& refused = registry.AddCounter(
      "keycache_forged_keys_total",
      "Well-formed keys refused without a lookup: a tagged key whose tag is wrong, or a legacy "
      "key whose id was never issued in the legacy format.",
      {"format"});
  forged_tagged_ = &refused.With({"tagged"});
  forged_legacy_ = &refused.With({"legacy"});
  legacy_reloads_ = &registry
                         .AddCounter("keycache_legacy_ids_reloads_total",
                                     "Reloads of the legacy key ids from the store.")
                         .With({});

  auto& durations = registry.AddHistogram(
      "cache_operation_duration_seconds",
      "Duration of cache operations that touch the store: load, warm, flush, invalidate.",
      {"operation", "cache_type"}, kGuideBuckets);
  auto& errors = registry.AddCounter("cache_errors_total", "Cache operations that failed.",
                                     {"cache_type", "operation"});
  for (CacheOp op : kOps) {
    for (CacheType t : kTypes) {
      durations_[static_cast<int>(op)][static_cast<int>(t)] =
          &durations.With({std::string(CacheOpName(op)), std::string(CacheTypeName(t))});
      errors_[static_cast<int>(t)][static_cast<int>(op)] =
          &errors.With({std::string(CacheTypeName(t)), std::string(CacheOpName(op))});
    }
  }
  registry
      .AddCallbackGauge("cache_hit_rate", "Validation cache hit rate over the last minute (0..1).")
      .Add({}, [&window] { return window.Snapshot().hit_rate; });
}

void ServiceMetrics::ValidationLookup(LookupResult r) {
  switch (r) {
    case LookupResult::kHit:
      validation_hit_->Inc();
      break;
    case LookupResult::kNegativeHit:
      negative_hit_->Inc();
      break;
    case LookupResult::kMiss:
      validation_miss_->Inc();
      break;
  }
  window_.Record(r != LookupResult::kMiss);
}

void ServiceMetrics::ObserveOperation(CacheOp op, CacheType type, Timer start) {
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  durations_[static_cast<int>(op)][static_cast<int>(type)]->Observe(elapsed.count());
}

void ServiceMetrics::RegisterCacheGauges(Registry& registry, const L1Cache& l1,
                                         const UsageCounter& usage) {
  auto& sizes =
      registry.AddCallbackGauge("cache_size_entries", "Entries held per cache.", {"cache_type"});
  sizes.Add({"validation"}, [&l1] { return static_cast<double>(l1.Sizes().validation); });
  sizes.Add({"scope"}, [&l1] { return static_cast<double>(l1.Sizes().scope); });
  sizes.Add({"user_list"}, [&l1] { return static_cast<double>(l1.Sizes().user_list); });
  sizes.Add({"usage"}, [&usage] { return static_cast<double>(usage.Size()); });
  sizes.Add({"negative"}, [&l1] { return static_cast<double>(l1.Sizes().negative); });
  registry.AddCallbackGauge("cache_memory_bytes", "Bytes charged to the in-process cache.")
      .Add({}, [&l1] { return static_cast<double>(l1.Sizes().bytes); });
  registry.AddCallbackGauge("cache_memory_limit_bytes", "The in-process cache's byte budget.")
      .Add({}, [&l1] { return static_cast<double>(l1.Sizes().capacity_bytes); });
}

}  // namespace keycache
