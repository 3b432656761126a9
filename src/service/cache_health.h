// CacheHealth: the judgement behind GET /health/cache. The hit rate is the share of validation
// lookups answered without the database — by L1 or by Redis; negative hits count as hits — over a
// sliding window of the last minute, with each tier's share beside it; below 0.8 the cache
// is "degraded", but only once the window holds at least `min_lookups` lookups, so a freshly
// started or idle instance is not declared degraded on a handful of cold misses.
// With the Redis tier, an open breaker or a lapsed coherence lease also make it "degraded"
// (the service still answers correctly, from the database). So does a lapsed lease of the
// PostgreSQL invalidation channel (LISTEN/NOTIFY, without Redis). Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "cache/l1_cache.h"
#include "cache/usage_counter.h"
#include "l2/tier_status.h"
#include "metrics/hit_rate_window.h"

namespace keycache {

struct CacheHealthReport {
  std::string status;  // "healthy" | "degraded" | "unhealthy"
  bool connected = true;
  double hit_rate = 1.0;                       // 0..1: answered by L1 or Redis
  double l1_hit_rate = 0, redis_hit_rate = 0;  // each tier's share of the lookups (0 if none)
  std::uint64_t window_lookups = 0;
  std::uint64_t l1_hits = 0, redis_hits = 0, misses = 0;  // of window_lookups
  std::uint64_t validation = 0, scope = 0, user_list = 0, usage = 0, negative = 0;
  std::uint64_t bytes = 0, capacity_bytes = 0;
  std::string reason;               // why not healthy; "" when healthy
  std::string error;                // set when the check itself failed
  std::optional<TierStatus> redis;  // with the Redis tier
  // With the PostgreSQL channel (l2/notify_coherence.h; the pool and breaker fields do not apply).
  std::optional<TierStatus> pg_channel;
  std::uint64_t total_entries() const { return validation + scope + user_list + usage; }
};

struct CacheHealthOptions {
  bool cache_enabled = true;
  bool emergency_mode = false;
  double min_hit_rate = 0.8;
  std::uint64_t min_lookups = 100;
};

class CacheHealth {
 public:
  // With `redis`, the report includes the Redis tier: "degraded" while its breaker is open or
  // the coherence lease has lapsed, and `connected` is Redis's.
  // With `pg_channel`, "degraded" while its lease has lapsed.
  CacheHealth(CacheHealthOptions options, L1Cache& l1, UsageCounter& usage, HitRateWindow& window,
              const TierStatusSource* redis = nullptr, const TierStatusSource* pg_channel = nullptr)
      : options_(options),
        l1_(l1),
        usage_(usage),
        window_(window),
        redis_(redis),
        pg_channel_(pg_channel) {}

  CacheHealthReport Check() const;

 private:
  const CacheHealthOptions options_;
  L1Cache& l1_;
  UsageCounter& usage_;
  HitRateWindow& window_;
  const TierStatusSource* const redis_;
  const TierStatusSource* const pg_channel_;
};

}  // namespace keycache
