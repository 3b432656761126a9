#include "service/service_metrics.h"

#include <string>

#include "util/check.h"

namespace keycache {
namespace {

constexpr CacheType kTypes[] = {CacheType::kValidation, CacheType::kScope, CacheType::kUserList,
                                CacheType::kUsage};
constexpr CacheOp kOps[] = {CacheOp::kLoad, CacheOp::kWarm, CacheOp::kFlush, CacheOp::kInvalidate};
constexpr CacheStatus kStatuses[] = {CacheStatus::kHit, CacheStatus::kMiss, CacheStatus::kBypass};

// cache_operation_duration_seconds: the deployment guide's buckets (1 ms .. 1 s), below them
// finer ones down to 1 us, where L1 (sub-microsecond) and Redis (tens of microseconds on a LAN)
// lookups land.
const std::vector<double> kDurationBuckets = {
    0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
    0.0005,   0.001,     0.005,    0.01,    0.05,     0.1,     0.5,    1};
constexpr AnsweredBy kTiers[] = {AnsweredBy::kL1, AnsweredBy::kRedis, AnsweredBy::kDatabase};

// The tier label of the operations other than lookups: what they touch.
std::string_view OperationTier(CacheOp op) {
  return op == CacheOp::kInvalidate ? "all" : "database";
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view TierName(AnsweredBy by) {
  switch (by) {
    case AnsweredBy::kL1:
      return "l1";
    case AnsweredBy::kRedis:
      return "redis";
    case AnsweredBy::kDatabase:
      return "database";
  }
  return "database";
}

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
  auto& hits = registry.AddCounter(
      "cache_hits_total",
      "Cache lookups answered by a cache tier (l1 or redis), without the store.",
      {"cache_type", "key_type", "tier"});
  auto& misses = registry.AddCounter("cache_misses_total",
                                     "Cache lookups that had to go to the store (database).",
                                     {"cache_type", "key_type"});
  // key_type says which kind of entry answered: a known key, a known-unknown key (negative
  // entry), or an owner's key list. A miss is counted before the store says which it was.
  for (AnsweredBy by : {AnsweredBy::kL1, AnsweredBy::kRedis}) {
    const std::string tier(TierName(by));
    validation_[static_cast<int>(by)] = &hits.With({"validation", "api_key", tier});
    negative_[static_cast<int>(by)] = &hits.With({"validation", "unknown_key", tier});
    user_list_[static_cast<int>(by)] = &hits.With({"user_list", "owner", tier});
  }
  const int db = static_cast<int>(AnsweredBy::kDatabase);
  validation_[db] = negative_[db] = &misses.With({"validation", "api_key"});
  user_list_[db] = &misses.With({"user_list", "owner"});
  scope_hit_ = &hits.With({"scope", "api_key", "l1"});
  scope_miss_ = &misses.With({"scope", "api_key"});
  store_reads_ =
      &registry
           .AddCounter("keycache_store_reads_total",
                       "Store reads made to fill the validation cache (after coalescing).")
           .With({});
  hmac_skipped_ = &registry
                       .AddCounter("keycache_verifications_hmac_skipped_total",
                                   "L1 hits whose presented key this I/O thread had already "
                                   "checked with HMAC-SHA256 and recognised by its SipHash proof "
                                   "tag, so no HMAC was computed.")
                       .With({});
  auto& overtaken = registry.AddCounter(
      "keycache_cache_fills_overtaken_total",
      "Store reads for a cache fill that an invalidation or a clear overtook: nothing was cached, "
      "and the flight read again (from the fourth such read on, for late arrivals only).",
      {"cache_type"});
  for (CacheType t : kTypes) {
    overtaken_[static_cast<int>(t)] = &overtaken.With({std::string(CacheTypeName(t))});
  }
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
      "Duration of cache operations: lookups by the tier that answered (l1 sampled), and the "
      "operations that touch the store (load, warm, flush, invalidate).",
      {"operation", "cache_type", "tier"}, kDurationBuckets);
  for (CacheType t : {CacheType::kValidation, CacheType::kUserList}) {
    for (AnsweredBy by : kTiers) {
      lookups_[static_cast<int>(t)][static_cast<int>(by)] =
          &durations.With({"lookup", std::string(CacheTypeName(t)), std::string(TierName(by))});
    }
  }
  auto& errors = registry.AddCounter("cache_errors_total", "Cache operations that failed.",
                                     {"cache_type", "operation"});
  for (CacheOp op : kOps) {
    for (CacheType t : kTypes) {
      durations_[static_cast<int>(op)][static_cast<int>(t)] =
          &durations.With({std::string(CacheOpName(op)), std::string(CacheTypeName(t)),
                           std::string(OperationTier(op))});
      errors_[static_cast<int>(t)][static_cast<int>(op)] =
          &errors.With({std::string(CacheTypeName(t)), std::string(CacheOpName(op))});
    }
  }
  registry
      .AddCallbackGauge("cache_hit_rate",
                        "Share of validation lookups answered without the database (L1 or Redis) "
                        "over the last minute (0..1).")
      .Add({}, [&window] { return window.Snapshot().hit_rate; });
}

void ServiceMetrics::ValidationLookup(AnsweredBy by, bool negative) {
  (negative ? negative_ : validation_)[static_cast<int>(by)]->Inc();
  window_.Record(by);
}

void ServiceMetrics::ValidationLookup(AnsweredBy by, bool negative, TimeMs now) {
  (negative ? negative_ : validation_)[static_cast<int>(by)]->Inc();
  window_.Record(by, now);
}

void ServiceMetrics::ObserveOperation(CacheOp op, CacheType type, Timer start) {
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  durations_[static_cast<int>(op)][static_cast<int>(type)]->Observe(elapsed.count());
}

void ServiceMetrics::ObserveLookup(CacheType type, AnsweredBy by, Timer start) {
  Histogram* h = lookups_[static_cast<int>(type)][static_cast<int>(by)];
  KC_CHECK(h != nullptr);  // only validation and user_list lookups are timed
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  h->Observe(elapsed.count());
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
