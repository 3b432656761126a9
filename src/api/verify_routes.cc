// Verification endpoints. The key is the credential: no admin token. Answers from the L1 are
// produced without leaving the calling thread; misses await the store through the Verifier.
#include <array>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <optional>

#include "api/http_util.h"
#include "api/request_parsing.h"
#include "api/routes.h"
#include "core/scope.h"
#include "util/check.h"
#include "util/time_format.h"

namespace keycache {
namespace {

namespace http = boost::beast::http;
using boost::asio::awaitable;

constexpr std::size_t kMaxRequiredScopes = 16;

Response VerifyJson(const VerifyOutcome& outcome) {
  boost::json::object o;
  o["valid"] = outcome.code == VerifyCode::kValid;
  o["code"] = VerifyCodeName(outcome.code);
  if (outcome.facts) {
    const KeyFacts& f = *outcome.facts;
    o["key_id"] = KeyIdToString(f.id);
    o["owner_id"] = f.owner_id;
    boost::json::array scopes;
    for (const auto& s : f.scopes) scopes.emplace_back(s);
    o["scopes"] = std::move(scopes);
    o["expires_at"] = f.expires_at == kNever ? boost::json::value(nullptr)
                                             : boost::json::value(FormatRfc3339(f.expires_at));
  }
  Response res = Json(200, o);
  res.set("X-Cache-Status", CacheStatusName(outcome.cache));
  return res;
}

// The /v1/auth answer: 200 with identity headers, 401 for anything that is not a usable key,
// 403 for a usable key without the required scope.
Response AuthResponse(const VerifyOutcome& outcome) {
  const VerifyCode code = outcome.code;
  const unsigned status = code == VerifyCode::kValid               ? 200
                          : code == VerifyCode::kInsufficientScope ? 403
                                                                   : 401;
  // Built by hand rather than with JsonResponse: the server writes Content-Length, so a field
  // (an allocation) less per answer.
  Response res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  std::string& body = res.body();
  body.reserve(40);
  body.append("{\"code\":");
  AppendJsonString(body, VerifyCodeName(code));
  body.push_back('}');
  res.set("X-Cache-Status", CacheStatusName(outcome.cache));
  if (status == 401) res.set(http::field::www_authenticate, "Bearer realm=\"keycache\"");
  if (code == VerifyCode::kValid) {
    KC_CHECK(outcome.facts != nullptr);
    const KeyFacts& f = *outcome.facts;
    res.set("X-Key-Id", KeyIdToString(f.id));
    res.set("X-Owner-Id", f.owner_id);
    std::string scopes;
    for (const auto& s : f.scopes) {
      if (!scopes.empty()) scopes.push_back(',');
      scopes += s;
    }
    res.set("X-Key-Scopes", scopes);
  }
  return res;
}

// Required scopes from X-Required-Scope (comma or space separated) or ?scope=.
Parsed<std::vector<std::string>> RequiredScopes(const RequestContext& ctx) {
  std::string text;
  if (auto it = ctx.req.find("X-Required-Scope"); it != ctx.req.end()) {
    text = it->value();
  } else if (auto q = QueryParam(ctx.query, "scope")) {
    text = std::move(*q);
  }
  std::vector<std::string> scopes;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find_first_of(", ", pos);
    if (end == std::string::npos) end = text.size();
    std::string_view item(text.data() + pos, end - pos);
    if (!item.empty()) {
      if (!IsValidScope(item)) {
        return BadRequest("required scope '" + std::string(item.substr(0, kMaxScopeChars)) +
                          "' is not valid; expected resource:action or *");
      }
      if (scopes.size() == kMaxRequiredScopes) return BadRequest("at most 16 required scopes");
      scopes.emplace_back(item);
    }
    pos = end + 1;
  }
  return scopes;
}

std::string_view PresentedKey(const Request& req) {
  if (auto it = req.find("X-API-Key"); it != req.end()) return it->value();
  return BearerToken(req);
}

// Refusals of a verification request itself (bad body, bad required scope) and backend
// failures: no cache answered, so they say BYPASS like every other verification response.
Response Refused(const ApiError& e) {
  Response res = Error(e);
  res.set("X-Cache-Status", "BYPASS");
  return res;
}

Response Unavailable(const boost::system::error_code& ec) {
  return Refused(FromServiceError(ec, "verification"));
}

// The slow half of both routes: what memory could not answer, as the fast half parsed it.
awaitable<Response> CompleteVerify(Verifier& verifier, PendingVerify pending) {
  auto outcome = co_await verifier.Complete(std::move(pending));
  if (!outcome) co_return Unavailable(outcome.error());
  co_return VerifyJson(*outcome);
}

awaitable<Response> CompleteAuth(Verifier& verifier, PendingVerify pending) {
  auto outcome = co_await verifier.Complete(std::move(pending));
  if (!outcome) co_return Unavailable(outcome.error());
  co_return AuthResponse(*outcome);
}

}  // namespace

Result<void> RegisterVerifyRoutes(Router& router, ApiDeps& deps) {
  // Each route parses once, in its fast path: bad requests and answers from memory (L1 hits,
  // malformed keys) return at once; anything else becomes a coroutine that owns the parsed
  // request and awaits the store.
  FastPathHandler verify{[&deps](RequestContext& ctx) -> FastPathResult {
    auto body = ParseVerify(ctx.req.body());
    if (!body.ok()) return Refused(body.error());
    const std::string ip = ClientIp(ctx, deps.config.trusted_proxies);
    auto cached = deps.verifier.VerifyCached(body.value().key, body.value().scopes, ip);
    if (auto* outcome = std::get_if<VerifyOutcome>(&cached)) return VerifyJson(*outcome);
    return CompleteVerify(deps.verifier, std::move(std::get<PendingVerify>(cached)));
  }};
  auto r = router.AddFastPath(http::verb::post, "/v1/keys/verify", std::move(verify));
  if (!r) return r;

  FastPathHandler auth{[&deps](RequestContext& ctx) -> FastPathResult {
    std::string_view key = PresentedKey(ctx.req);
    if (key.empty()) {
      Response res = JsonResponse(401, "{\"code\":\"MISSING_API_KEY\"}");
      res.set(http::field::www_authenticate, "Bearer realm=\"keycache\"");
      res.set("X-Cache-Status", "BYPASS");
      return res;
    }
    auto scopes = RequiredScopes(ctx);
    if (!scopes.ok()) return Refused(scopes.error());
    const std::string ip = ClientIp(ctx, deps.config.trusted_proxies);
    auto cached = deps.verifier.VerifyCached(key, scopes.value(), ip);
    if (auto* outcome = std::get_if<VerifyOutcome>(&cached)) return AuthResponse(*outcome);
    return CompleteAuth(deps.verifier, std::move(std::get<PendingVerify>(cached)));
  }};
  // nginx auth_request sends its subrequest as GET. Envoy's ext_authz HTTP service forwards the
  // original method and appends the original path to its path_prefix ("/v1/auth/orders/42"),
  // so accept the common methods on "/v1/auth" and on everything below it.
  for (const char* pattern : {"/v1/auth", "/v1/auth/*"}) {
    for (auto verb : {http::verb::get, http::verb::head, http::verb::post, http::verb::put,
                      http::verb::patch, http::verb::delete_, http::verb::options}) {
      if (r = router.AddFastPath(verb, pattern, auth); !r) return r;
    }
  }
  return {};
}

}  // namespace keycache
