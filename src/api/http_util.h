// Small request/response helpers shared by the route handlers: JSON replies, errors, the admin
// bearer check, the client address behind trusted proxies, percent-decoding. Pure functions
// except where a reference argument says otherwise; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/api_error.h"
#include "config/trusted_proxies.h"
#include "http/http_json.h"
#include "http/http_types.h"

namespace keycache {

Response Json(unsigned status, const boost::json::value& body);
Response Error(const ApiError& e);

// Constant-time check of "Authorization: Bearer <token>"; nullopt when allowed, else the 401.
std::optional<Response> RequireAdmin(const Request& req, std::string_view admin_token);

// The Bearer credential of an Authorization header, or "".
std::string_view BearerToken(const Request& req);

// The peer address, or, when the peer is a trusted proxy, the nearest untrusted address of
// X-Forwarded-For (walking from the right), else X-Real-IP. Uses ctx.peer_text when set, so the
// common case (no trusted proxy) formats nothing.
std::string ClientIp(const RequestContext& ctx, const TrustedProxies& proxies);

// Percent-decodes a path segment (or, with plus_is_space, a query value); nullopt on a bad
// escape.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space = false);

// The value of `name` in a query string ("a=1&b=2"), decoded; nullopt when absent or invalid.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name);

}  // namespace keycache
