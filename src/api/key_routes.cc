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
        auto record = co_await deps.keys.Update(id, std::move(patch.value()));
        if (!record) co_return Error(FromServiceError(record.error(), "key"));
        co_return Json(200, KeyRecordToJson(*record, deps.clock.NowMs()));
      }));
  if (!r) return r;

  r = router.Add(http::verb::delete_, "/v1/keys/{id}",
                 AdminKeyHandler(deps, [&deps](RequestContext&, KeyId id) -> awaitable<Response> {
                   auto record = co_await deps.keys.Delete(id);
                   if (!record) co_return Error(FromServiceError(record.error(), "key"));
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
        auto record = co_await deps.keys.Revoke(id, std::move(reason.value()));
        if (!record) co_return Error(FromServiceError(record.error(), "key"));
        co_return Json(200, KeyRecordToJson(*record, deps.clock.NowMs()));
      }));
  if (!r) return r;

  r = router.Add(
      http::verb::post, "/v1/keys/{id}/rotate",
      AdminKeyHandler(deps, [&deps](RequestContext& ctx, KeyId id) -> awaitable<Response> {
        auto grace = ParseRotate(ctx.req.body());
        if (!grace.ok()) co_return Error(grace.error());
        auto created = co_await deps.keys.Rotate(id, grace.value());
        if (!created) {
          if (created.error() == Errc::kConflict) {
            co_return Error({409, "already_revoked", "the key is revoked or already rotated"});
          }
          co_return Error(FromServiceError(created.error(), "key"));
        }
        const TimeMs now = deps.clock.NowMs();
        auto body = CreatedJson(*created, now);
        boost::json::object old;
        old["id"] = KeyIdToString(id);
        old["revoked_at"] = FormatRfc3339(now + grace.value());
        body["rotated_from"] = std::move(old);
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
                     recent["current_minute"] = usage->recent->first;
                     recent["previous_minute"] = usage->recent->second;
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
