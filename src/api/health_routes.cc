// Health checks and the Prometheus scrape endpoint (no authentication: they reveal no keys).
#include <boost/json/object.hpp>

#include "api/http_util.h"
#include "api/routes.h"
#include "util/time_format.h"

namespace keycache {
namespace {

namespace http = boost::beast::http;
using boost::asio::awaitable;

// The coherence lease, the invalidation channel and its propagation lag, as every invalidation
// channel (Redis Pub/Sub, PostgreSQL NOTIFY) reports them.
void AddCoherenceJson(const TierStatus& r, boost::json::object& o) {
  boost::json::object lease;
  lease["held"] = r.lease_held;
  lease["remainingSeconds"] = r.lease_remaining_seconds;
  if (r.last_renewal_age_seconds >= 0) {
    lease["lastRenewalAgeSeconds"] = r.last_renewal_age_seconds;
  } else {
    lease["lastRenewalAgeSeconds"] = nullptr;
  }
  lease["peers"] = r.peers;
  o["coherenceLease"] = std::move(lease);
  boost::json::object channel;
  channel["subscribed"] = r.channel_up;
  channel["anomalies"] = r.channel_anomalies;
  if (r.channel_silence_seconds >= 0) {
    channel["lastSignOfLifeAgeSeconds"] = r.channel_silence_seconds;
  } else {
    channel["lastSignOfLifeAgeSeconds"] = nullptr;
  }
  channel["received"] = r.invalidations_received;
  channel["pendingReplay"] = r.invalidations_pending;
  o["invalidationChannel"] = std::move(channel);
  boost::json::object lag;
  lag["samples"] = r.propagation_samples;
  lag["p50Seconds"] = r.propagation_p50_seconds;  // upper bound of the bucket
  lag["p99Seconds"] = r.propagation_p99_seconds;
  o["propagationLag"] = std::move(lag);
}

boost::json::object PgChannelJson(const TierStatus& r) {
  boost::json::object o;
  o["listening"] = r.channel_up;
  AddCoherenceJson(r, o);
  return o;
}

boost::json::object RedisJson(const TierStatus& r) {
  boost::json::object o;
  o["connected"] = r.connected;
  o["poolConnected"] = r.pool_connected;
  o["poolSize"] = r.pool_size;
  o["breaker"] = r.breaker_open ? "open" : "closed";
  if (r.breaker_open) o["breakerReason"] = r.breaker_reason;
  if (!r.last_error.empty()) o["lastError"] = r.last_error;
  if (r.sentinel) {
    boost::json::object sentinel;
    if (r.primary.empty()) {
      sentinel["primary"] = nullptr;
    } else {
      sentinel["primary"] = r.primary;
    }
    sentinel["failovers"] = r.failovers;
    sentinel["subscribed"] = r.sentinels_subscribed;
    o["sentinel"] = std::move(sentinel);
  }
  AddCoherenceJson(r, o);
  if (r.entries) {
    boost::json::object e;
    e["validation"] = r.entries->validation;
    e["userList"] = r.entries->user_list;
    e["usage"] = r.entries->usage;
    o["entries"] = std::move(e);
  }
  return o;
}

}  // namespace

Result<void> RegisterHealthRoutes(Router& router, ApiDeps& deps) {
  auto r = router.AddSync(http::verb::get, "/health/cache", [&deps](RequestContext&) {
    const CacheHealthReport h = deps.health.Check();
    boost::json::object o;
    o["status"] = h.status;
    o["timestamp"] = FormatRfc3339(deps.clock.NowMs());
    if (!h.error.empty()) {
      o["error"] = h.error;
      return Json(503, o);
    }
    boost::json::object breakdown;
    breakdown["validation"] = h.validation;
    breakdown["scope"] = h.scope;
    breakdown["userList"] = h.user_list;
    breakdown["usage"] = h.usage;
    boost::json::object cache;
    cache["connected"] = h.connected;
    cache["hitRate"] = h.hit_rate;
    cache["totalEntries"] = h.total_entries();
    cache["breakdown"] = std::move(breakdown);
    cache["windowLookups"] = h.window_lookups;
    // Beside hitRate (answered without the database): each tier's share of the same lookups, and
    // the counts behind them; null shares while the window holds no lookup.
    boost::json::object by_tier;
    boost::json::object lookups_by_tier;
    by_tier["l1"] = h.l1_hit_rate;
    by_tier["redis"] = h.redis_hit_rate;
    if (h.window_lookups == 0) by_tier["l1"] = by_tier["redis"] = nullptr;
    lookups_by_tier["l1"] = h.l1_hits;
    lookups_by_tier["redis"] = h.redis_hits;
    lookups_by_tier["database"] = h.misses;
    cache["hitRateByTier"] = std::move(by_tier);
    cache["lookupsByTier"] = std::move(lookups_by_tier);
    cache["negativeEntries"] = h.negative;
    cache["memoryBytes"] = h.bytes;
    cache["memoryLimitBytes"] = h.capacity_bytes;
    if (h.redis) cache["redis"] = RedisJson(*h.redis);
    if (h.pg_channel) cache["postgresChannel"] = PgChannelJson(*h.pg_channel);
    o["cache"] = std::move(cache);
    if (!h.reason.empty()) o["reason"] = h.reason;
    return Json(h.status == "healthy" ? 200 : 503, o);
  });
  if (!r) return r;

  r = router.AddSync(http::verb::get, "/health/live",
                     [](RequestContext&) { return JsonResponse(200, "{\"status\":\"ok\"}"); });
  if (!r) return r;

  r = router.Add(http::verb::get, "/health/ready", [&deps](RequestContext&) -> awaitable<Response> {
    boost::json::object o;
    if (deps.shutting_down.load(std::memory_order_acquire)) {
      // Draining (KEYCACHE_DRAIN): still serving, but load balancers should take it out now.
      o["status"] = "not_ready";
      o["draining"] = true;
      o["reason"] = "draining: shutting down, send new requests to another instance";
      co_return Json(503, o);
    }
    auto ping = co_await deps.db.Read([&deps] { return deps.store.Ping(); });
    if (!ping) {
      o["status"] = "not_ready";
      o["reason"] = "database: " + ping.error().message();
      co_return Json(503, o);
    }
    o["status"] = "ready";
    o["database"] = "ok";
    o["cache"] = deps.config.emergency_mode  ? "bypassed (EMERGENCY_MODE)"
                 : deps.config.cache_enabled ? "enabled"
                                             : "disabled";
    // Redis is a cache: without it the service still answers, so it stays ready.
    if (deps.redis) {
      const TierStatus rs = deps.redis->Status();
      if (rs.breaker_open) {
        o["redis"] = "unavailable";
        o["reason"] = "Redis unavailable, serving from L1 and the database: " + rs.breaker_reason;
      } else {
        o["redis"] = "ok";
      }
    }
    co_return Json(200, o);
  });
  if (!r) return r;

  return router.AddSync(http::verb::get, "/metrics", [&deps](RequestContext&) {
    if (!deps.config.metrics_enabled) {
      return JsonError(404, "metrics_disabled", "metrics are off (CACHE_METRICS_ENABLED=false)");
    }
    Response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = deps.registry.Render();
    return res;
  });
}

}  // namespace keycache
