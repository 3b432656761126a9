// Cache administration endpoints (admin token required).
#include <boost/json/object.hpp>
#include <chrono>
#include <optional>

#include "api/http_util.h"
#include "api/request_parsing.h"
#include "api/routes.h"

namespace keycache {
namespace {

namespace http = boost::beast::http;
using boost::asio::awaitable;

template <class F>
Handler AdminOnly(ApiDeps& deps, F body) {
  return [&deps, body](RequestContext& ctx) -> awaitable<Response> {
    if (auto denied = RequireAdmin(ctx.req, deps.config.admin_token)) co_return std::move(*denied);
    co_return co_await body(ctx);
  };
}

bool CacheActive(const Config& c) { return c.cache_enabled && !c.emergency_mode; }

}  // namespace

Result<void> RegisterAdminRoutes(Router& router, ApiDeps& deps) {
  auto r = router.Add(
      http::verb::post, "/admin/cache/warm",
      AdminOnly(deps, [&deps](RequestContext&) -> awaitable<Response> {
        if (!CacheActive(deps.config)) {
          co_return Error(
              {409, "cache_disabled",
               "the cache is disabled (API_KEY_CACHE_ENABLED=false or EMERGENCY_MODE=true)"});
        }
        auto warmed = co_await deps.warmer.Warm();
        if (!warmed) co_return Error(FromServiceError(warmed.error(), "warm-up"));
        boost::json::object o;
        o["candidates"] = warmed->candidates;
        o["loaded"] = warmed->keys;
        o["from_redis"] = warmed->from_redis;
        o["from_database"] = warmed->from_database;
        o["scope_decisions"] = warmed->scope_decisions;
        o["owner_lists"] = warmed->owner_lists;
        // Every other instance warms too, asked over the invalidation channel.
        const std::optional<bool> asked = co_await deps.warmer.AskOthers(
            std::chrono::milliseconds(deps.config.redis.command_timeout_ms));
        o["other_instances"] = !asked   ? "none: no invalidation channel (one instance)"
                               : *asked ? "asked"
                                        : "not reached: the invalidation channel is down";
        co_return Json(200, o);
      }));
  if (!r) return r;

  r = router.Add(http::verb::post, "/admin/cache/invalidate",
                 AdminOnly(deps, [&deps](RequestContext& ctx) -> awaitable<Response> {
                   auto parsed = ParseInvalidate(ctx.req.body());
                   if (!parsed.ok()) co_return Error(parsed.error());
                   InvalidateBody b = std::move(parsed.value());
                   boost::json::object o;
                   auto started = ServiceMetrics::StartTimer();
                   // Sinks never block: L1 drops entries at once, Redis is fenced from the tier's
                   // thread.
                   Propagation propagation;
                   switch (b.target) {
                     case InvalidateBody::Target::kAll:
                       propagation = co_await deps.keys.Invalidate(CacheChange::All());
                       o["invalidated"] = "all";
                       break;
                     case InvalidateBody::Target::kType:
                       if (b.type == CacheType::kUsage) {
                         // Pending usage is data, not a copy of it: "clearing" it means writing it
                         // out.
                         auto flush = [&deps] { return deps.flusher.FlushOnce(); };
                         auto flushed = co_await deps.db.Run(std::move(flush));
                         if (!flushed)
                           co_return Error(FromServiceError(flushed.error(), "usage flush"));
                         o["flushed_keys"] = *flushed;
                       } else {
                         propagation = co_await deps.keys.Invalidate(CacheChange::Type(b.type));
                       }
                       o["invalidated"] = CacheTypeName(b.type);
                       break;
                     case InvalidateBody::Target::kKey: {
                       // The owner's key list holds this key too: the service finds the owner.
                       auto done = co_await deps.keys.InvalidateKey(b.key_id);
                       if (!done) co_return Error(FromServiceError(done.error(), "key"));
                       propagation = std::move(*done);
                       o["invalidated"] = "key";
                       o["key_id"] = KeyIdToString(b.key_id);
                       break;
                     }
                     case InvalidateBody::Target::kOwner:
                       propagation = co_await deps.keys.Invalidate(CacheChange::Owner(b.owner_id));
                       o["invalidated"] = "owner";
                       o["owner_id"] = b.owner_id;
                       break;
                   }
                   if (!propagation.in_force) {
                     co_return Error(
                         {503, "propagation_pending",
                          "this instance's cache is cleared, but the shared cache (Redis) did not "
                          "take the invalidation (" +
                              propagation.reason +
                              "); it is retried automatically. Repeat the request to confirm it."});
                   }
                   deps.metrics.ObserveOperation(
                       CacheOp::kInvalidate,
                       b.target == InvalidateBody::Target::kType ? b.type : CacheType::kValidation,
                       started);
                   co_return Json(200, o);
                 }));
  if (!r) return r;

  return router.Add(http::verb::get, "/admin/cache/stats",
                    AdminOnly(deps, [&deps](RequestContext&) -> awaitable<Response> {
                      const CacheHealthReport h = deps.health.Check();
                      boost::json::object entries;
                      entries["validation"] = h.validation;
                      entries["scope"] = h.scope;
                      entries["user_list"] = h.user_list;
                      entries["usage"] = h.usage;
                      entries["negative"] = h.negative;
                      boost::json::object ttl;
                      ttl["validation"] = deps.config.ttl_validation_s;
                      ttl["scope"] = deps.config.ttl_scope_s;
                      ttl["user_list"] = deps.config.ttl_user_list_s;
                      ttl["usage"] = deps.config.ttl_usage_s;
                      ttl["negative"] = deps.config.ttl_negative_s;
                      boost::json::object o;
                      o["enabled"] = deps.config.cache_enabled;
                      o["emergency_mode"] = deps.config.emergency_mode;
                      o["status"] = h.status;
                      o["hit_rate"] = h.hit_rate;
                      o["window_lookups"] = h.window_lookups;
                      o["entries"] = std::move(entries);
                      o["bytes"] = h.bytes;
                      o["capacity_bytes"] = h.capacity_bytes;
                      o["ttl_seconds"] = std::move(ttl);
                      co_return Json(200, o);
                    }));
}

}  // namespace keycache
