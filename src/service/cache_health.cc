#include "service/cache_health.h"

#include <cstdio>
#include <exception>

namespace keycache {

CacheHealthReport CacheHealth::Check() const {
  CacheHealthReport r;
  try {
    const auto sizes = l1_.Sizes();
    r.validation = sizes.validation;
    r.scope = sizes.scope;
    r.user_list = sizes.user_list;
    r.negative = sizes.negative;
    r.bytes = sizes.bytes;
    r.capacity_bytes = sizes.capacity_bytes;
    r.usage = usage_.Size();
    const auto window = window_.Snapshot();
    r.hit_rate = window.hit_rate;
    r.window_lookups = window.lookups();
    r.l1_hit_rate = window.l1_rate;
    r.redis_hit_rate = window.redis_rate;
    r.l1_hits = window.l1_hits;
    r.redis_hits = window.redis_hits;
    r.misses = window.misses;
    r.connected = options_.cache_enabled && !options_.emergency_mode;
    if (redis_ && r.connected) {
      r.redis = redis_->Status();
      r.connected = r.redis->connected && !r.redis->breaker_open;
    }
    if (pg_channel_ && r.connected) r.pg_channel = pg_channel_->Status();
    r.status = "healthy";
    if (options_.emergency_mode) {
      r.status = "degraded";
      r.reason = "EMERGENCY_MODE is on: every verification reads the database";
    } else if (!options_.cache_enabled) {
      r.status = "degraded";
      r.reason = "API_KEY_CACHE_ENABLED is false: every verification reads the database";
    } else if (r.redis && r.redis->breaker_open) {
      r.status = "degraded";
      r.reason = "Redis unavailable, serving from L1 and the database (BYPASS): " +
                 r.redis->breaker_reason;
    } else if (r.redis && !r.redis->lease_held) {
      r.status = "degraded";
      r.reason = std::string("coherence lease lapsed (") +
                 (r.redis->channel_up ? "no heartbeat heard back lately"
                                      : "the invalidation channel is down") +
                 "): serving from the database (BYPASS) until a heartbeat comes back";
    } else if (r.pg_channel && !r.pg_channel->lease_held) {
      r.status = "degraded";
      r.reason = std::string("coherence lease lapsed (") +
                 (r.pg_channel->channel_up ? "no heartbeat heard back lately"
                                           : "the PostgreSQL LISTEN connection is down") +
                 "): serving from the database until a heartbeat comes back";
    } else if (r.window_lookups >= options_.min_lookups && r.hit_rate < options_.min_hit_rate) {
      char text[160];
      std::snprintf(text, sizeof text, "hit rate %.3f over the last %llu lookups is below %.2f",
                    r.hit_rate, static_cast<unsigned long long>(r.window_lookups),
                    options_.min_hit_rate);
      r.status = "degraded";
      r.reason = text;
    }
  } catch (const std::exception& e) {
    r.status = "unhealthy";
    r.error = e.what();
  }
  return r;
}

}  // namespace keycache
