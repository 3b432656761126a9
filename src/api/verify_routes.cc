// Verification endpoints. The key is the credential: no admin token. Answers from the L1 are
// produced without leaving the calling thread; misses await the store through the Verifier.
#include <array>
#include <optional>

#include "api/http_util.h"
#include "api/request_parsing.h"
#include "api/routes.h"
#include "core/scope.h"
#include "http/plain_response.h"
#include "util/check.h"
#include "util/time_format.h"

namespace keycache {
namespace {

namespace http = boost::beast::http;
using boost::asio::awaitable;

constexpr std::size_t kMaxRequiredScopes = 16;

// The /v1/keys/verify answer, in wire form like /v1/auth's (below): the JSON is written
// directly, in the order a boost::json object would have serialised it.
PlainResponse VerifyJson(const VerifyOutcome& outcome) {
  PlainResponse res;
  std::string& body = res.body;
  body.reserve(192);
  body.append(outcome.code == VerifyCode::kValid ? "{\"valid\":true,\"code\":"
                                                 : "{\"valid\":false,\"code\":");
  AppendJsonString(body, VerifyCodeName(outcome.code));
  if (outcome.facts) {
    const KeyFacts& f = *outcome.facts;
    body.append(",\"key_id\":");
    AppendJsonString(body, KeyIdToString(f.id));
    body.append(",\"owner_id\":");
    AppendJsonString(body, f.owner_id);
    body.append(",\"scopes\":[");
    for (std::size_t i = 0; i < f.scopes.size(); ++i) {
      if (i != 0) body.push_back(',');
      AppendJsonString(body, f.scopes[i]);
    }
    body.append("],\"expires_at\":");
    if (f.expires_at == kNever) {
      body.append("null");
    } else {
      AppendJsonString(body, FormatRfc3339(f.expires_at));
    }
  }
  body.push_back('}');
  AppendHeader(res.head, "Content-Type", "application/json");
  AppendHeader(res.head, "X-Cache-Status", CacheStatusName(outcome.cache));
  return res;
}

// The /v1/auth answer: 200 with identity headers, 401 for anything that is not a usable key,
// 403 for a usable key without the required scope. In wire form (every verification an nginx
// auth_request makes gets one): two strings instead of a field list. The values are safe as
// they are: key ids are base62, and owner ids and scopes were refused at creation if they held
// control characters.
PlainResponse AuthResponse(const VerifyOutcome& outcome) {
  const VerifyCode code = outcome.code;
  PlainResponse res;
  res.status = code == VerifyCode::kValid               ? 200
               : code == VerifyCode::kInsufficientScope ? 403
                                                        : 401;
  res.body.reserve(40);
  res.body.append("{\"code\":");
  AppendJsonString(res.body, VerifyCodeName(code));
  res.body.push_back('}');
  std::string& head = res.head;
  head.reserve(192);
  AppendHeader(head, "Content-Type", "application/json");
  AppendHeader(head, "X-Cache-Status", CacheStatusName(outcome.cache));
  if (res.status == 401) AppendHeader(head, "WWW-Authenticate", "Bearer realm=\"keycache\"");
  if (code == VerifyCode::kValid) {
    KC_CHECK(outcome.facts != nullptr);
    const KeyFacts& f = *outcome.facts;
    AppendHeader(head, "X-Key-Id", KeyIdToString(f.id));
    AppendHeader(head, "X-Owner-Id", f.owner_id);
    head.append("X-Key-Scopes: ");
    for (std::size_t i = 0; i < f.scopes.size(); ++i) {
      if (i != 0) head.push_back(',');
      head.append(f.scopes[i]);
    }
    head.append("\r\n");
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
  co_return ToResponse(VerifyJson(*outcome));
}

awaitable<Response> CompleteAuth(Verifier& verifier, PendingVerify pending) {
  auto outcome = co_await verifier.Complete(std::move(pending));
  if (!outcome) co_return Unavailable(outcome.error());
  co_return ToResponse(AuthResponse(*outcome));
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
      PlainResponse res{401, {}, "{\"code\":\"MISSING_API_KEY\"}"};
      AppendHeader(res.head, "Content-Type", "application/json");
      AppendHeader(res.head, "WWW-Authenticate", "Bearer realm=\"keycache\"");
      AppendHeader(res.head, "X-Cache-Status", "BYPASS");
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
