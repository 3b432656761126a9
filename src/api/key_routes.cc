// Key lifecycle endpoints (admin token required).
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "api/http_util.h"
#include "api/request_parsing.h"
#include "api/routes.h"
#include "service/key_json.h"
#include "util/time_format.h"

namespace keycache {
namespace {

namespace http = boost::beast::http;
using boost::asio::awaitable;

boost::json::object CreatedJson(const CreatedKey& created, TimeMs now) {
  boost::json::object o;
  o["key"] = created.key;
  o["id"] = KeyIdToString(created.record.id);
  o["record"] = KeyRecordToJson(created.record, now);
  return o;
}

// A change that is committed but not in force on every instance (docs/adr/0003): 503, so that
// no client takes it for done while another instance may still serve the old state. `body`
// carries what the caller must not lose (a rotated key's replacement).
Response NotInForce(const Propagation& p, boost::json::object body = {}) {
  body["error"] = "propagation_pending";
  body["message"] =
      "the change is committed to the database but is not yet in force on every instance (" +
      p.reason +
      "); it is retried automatically, and instances that cannot reach Redis refuse cached "
      "answers within the coherence lease. Repeat the request to confirm it.";
  Response res = Json(503, body);
  res.set(http::field::retry_after, "1");
  return res;
}

// Every lifecycle route: check the admin token, parse {id}, then run `body`.
template <class F>
Handler AdminKeyHandler(ApiDeps& deps, F body) {
  return [&deps, body](RequestContext& ctx) -> awaitable<Response> {
    if (auto denied = RequireAdmin(ctx.req, deps.config.admin_token)) co_return std::move(*denied);
    auto id = ParseKeyIdParam(ctx.Param("id"));
    if (!id.ok()) co_return Error(id.error());
    co_return co_await body(ctx, id.value());
  };
}

}  // namespace

Result<void> RegisterKeyRoutes(Router& router, ApiDeps& deps) {
  auto r =
      router.Add(http::verb::post, "/v1/keys", [&deps](RequestContext& ctx) -> awaitable<Response> {
        if (auto denied = RequireAdmin(ctx.req, deps.config.admin_token))
          co_return std::move(*denied);
        const TimeMs now = deps.clock.NowMs();
        auto parsed = ParseCreateKey(ctx.req.body(), now);
        if (!parsed.ok()) co_return Error(parsed.error());
        auto created = co_await deps.keys.Create(std::move(parsed.value()));
        if (!created) co_return Error(FromServiceError(created.error(), "key"));
        co_return Json(201, CreatedJson(*created, now));
      });
  if (!r) return r;

  r = router.Add(http::verb::get, "/v1/keys/{id}",
                 AdminKeyHandler(deps, [&deps](RequestContext&, KeyId id) -> awaitable<Response> {
                   auto record = co_await deps.keys.Get(id);
                   if (!record) co_return Error(FromServiceError(record.error(), "key"));
                   co_return Json(200, KeyRecordToJson(*record, deps.clock.NowMs()));
                 }));
  if (!r) return r;

  r = router.Add(
      http::verb::patch, "/v1/keys/{id}",
      AdminKeyHandler(deps, [&deps](RequestContext& ctx, KeyId id) -> awaitable<Response> {
        auto patch = ParsePatchKey(ctx.req.body(), deps.clock.NowMs());
        if (!patch.ok()) co_return Error(patch.error());
        auto updated = co_await deps.keys.Update(id, std::move(patch.value()));
        if (!updated) co_return Error(FromServiceError(updated.error(), "key"));
        if (!updated->propagation.in_force) co_return NotInForce(updated->propagation);
        co_return Json(200, KeyRecordToJson(updated->value, deps.clock.NowMs()));
      }));
  if (!r) return r;

  r = router.Add(http::verb::delete_, "/v1/keys/{id}",
                 AdminKeyHandler(deps, [&deps](RequestContext&, KeyId id) -> awaitable<Response> {
                   auto deleted = co_await deps.keys.Delete(id);
                   if (!deleted) co_return Error(FromServiceError(deleted.error(), "key"));
                   if (!deleted->propagation.in_force) co_return NotInForce(deleted->propagation);
                   boost::json::object o;
                   o["id"] = KeyIdToString(id);
                   o["deleted"] = true;
                   co_return Json(200, o);
                 }));
  if (!r) return r;

  r = router.Add(
      http::verb::post, "/v1/keys/{id}/revoke",
      AdminKeyHandler(deps, [&deps](RequestContext& ctx, KeyId id) -> awaitable<Response> {
        auto reason = ParseRevoke(ctx.req.body());
        if (!reason.ok()) co_return Error(reason.error());
        auto revoked = co_await deps.keys.Revoke(id, std::move(reason.value()));
        if (!revoked) co_return Error(FromServiceError(revoked.error(), "key"));
        if (!revoked->propagation.in_force) co_return NotInForce(revoked->propagation);
        co_return Json(200, KeyRecordToJson(revoked->value, deps.clock.NowMs()));
      }));
  if (!r) return r;

  r = router.Add(
      http::verb::post, "/v1/keys/{id}/rotate",
      AdminKeyHandler(deps, [&deps](RequestContext& ctx, KeyId id) -> awaitable<Response> {
        auto grace = ParseRotate(ctx.req.body());
        if (!grace.ok()) co_return Error(grace.error());
        auto rotated = co_await deps.keys.Rotate(id, grace.value());
        if (!rotated) {
          if (rotated.error() == Errc::kConflict) {
            co_return Error({409, "already_revoked", "the key is revoked or already rotated"});
          }
          co_return Error(FromServiceError(rotated.error(), "key"));
        }
        const TimeMs now = deps.clock.NowMs();
        auto body = CreatedJson(rotated->value, now);
        boost::json::object old;
        old["id"] = KeyIdToString(id);
        // What the store holds, not the route's clock plus the grace (a slow database would
        // make that later than the truth; found by the model-based test).
        old["revoked_at"] = FormatRfc3339(rotated->value.replaced_revoked_at);
        body["rotated_from"] = std::move(old);
        // The new key exists either way and is shown only once: it travels in the 503 too.
        if (!rotated->propagation.in_force) {
          co_return NotInForce(rotated->propagation, std::move(body));
        }
        co_return Json(201, body);
      }));
  if (!r) return r;

  r = router.Add(http::verb::get, "/v1/keys/{id}/usage",
                 AdminKeyHandler(deps, [&deps](RequestContext&, KeyId id) -> awaitable<Response> {
                   auto usage = co_await deps.keys.Usage(id);
                   if (!usage) co_return Error(FromServiceError(usage.error(), "key"));
                   boost::json::object o;
                   o["id"] = KeyIdToString(id);
                   o["request_count"] = usage->count;
                   o["last_used_at"] = usage->last_used_at == 0
                                           ? boost::json::value(nullptr)
                                           : boost::json::value(FormatRfc3339(usage->last_used_at));
                   o["last_used_ip"] = usage->last_used_ip.empty()
                                           ? boost::json::value(nullptr)
                                           : boost::json::value(usage->last_used_ip);
                   if (usage->recent) {
                     // Every instance's flushed counts, from Redis's per-minute counters.
                     boost::json::object recent;
                     recent["current_minute"] = usage->recent->current_minute;
                     recent["previous_minute"] = usage->recent->previous_minute;
                     o["recent_all_instances"] = std::move(recent);
                   }
                   co_return Json(200, o);
                 }));
  if (!r) return r;

  return router.Add(http::verb::get, "/v1/owners/{owner_id}/keys",
                    [&deps](RequestContext& ctx) -> awaitable<Response> {
                      if (auto denied = RequireAdmin(ctx.req, deps.config.admin_token))
                        co_return std::move(*denied);
                      auto owner = PercentDecode(ctx.Param("owner_id"));
                      if (!owner || !IsValidOwnerId(*owner)) {
                        co_return Error(BadRequest("the owner id in the path is not valid"));
                      }
                      auto listed = co_await deps.keys.ListByOwner(std::move(*owner));
                      if (!listed) co_return Error(FromServiceError(listed.error(), "owner"));
                      Response res = JsonResponse(200, *listed->json);
                      res.set("X-Cache-Status", CacheStatusName(listed->cache));
                      co_return res;
                    });
}

}  // namespace keycache
