#include "api/http_util.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <boost/asio/ip/address.hpp>

#include "util/json_serialize.h"

namespace keycache {

namespace http = boost::beast::http;

Response Json(unsigned status, const boost::json::value& body) {
  // Plain decimals (0.95): the deployment guide's `jq '.cache.hitRate'` and humans read these.
  return JsonResponse(status, SerializeJson(body));
}

Response Error(const ApiError& e) { return JsonError(e.status, e.error, e.message); }

std::string_view BearerToken(const Request& req) {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return {};
  std::string_view v = it->value();
  constexpr std::string_view kScheme = "Bearer ";
  if (v.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(v[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return {};
    }
  }
  v.remove_prefix(kScheme.size());
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return v;
}

std::optional<Response> RequireAdmin(const Request& req, std::string_view admin_token) {
  std::string_view presented = BearerToken(req);
  // Compare digests so that neither the content nor the length of the token leaks through timing.
  unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(presented.data()), presented.size(), a);
  SHA256(reinterpret_cast<const unsigned char*>(admin_token.data()), admin_token.size(), b);
  if (!presented.empty() && CRYPTO_memcmp(a, b, sizeof a) == 0) return std::nullopt;
  Response res =
      JsonError(401, "unauthorized",
                presented.empty() ? "this endpoint needs Authorization: Bearer <admin token>"
                                  : "the admin token is not valid");
  res.set(http::field::www_authenticate, "Bearer realm=\"keycache-admin\"");
  return res;
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<boost::asio::ip::address> ParseAddress(std::string_view text) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(Trim(text)), ec);
  if (ec) return std::nullopt;
  return a;
}

}  // namespace

namespace {

// The session formats the peer once per connection; format it here only when it did not.
std::string PeerText(const RequestContext& ctx) {
  return ctx.peer_text.empty() ? ctx.peer.to_string() : std::string(ctx.peer_text);
}

}  // namespace

std::string ClientIp(const RequestContext& ctx, const TrustedProxies& proxies) {
  if (proxies.empty() || !proxies.Contains(ctx.peer)) return PeerText(ctx);
  auto xff = ctx.req.find("X-Forwarded-For");
  if (xff != ctx.req.end()) {
    std::string_view list = xff->value();
    std::optional<boost::asio::ip::address> nearest;
    while (!list.empty()) {
      std::size_t comma = list.rfind(',');
      std::string_view item = comma == std::string_view::npos ? list : list.substr(comma + 1);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
      auto addr = ParseAddress(item);
      if (!addr) break;  // garbage from the client side: trust nothing further left
      nearest = addr;
      if (!proxies.Contains(*addr)) break;
    }
    if (nearest) return nearest->to_string();
  }
  auto real = ctx.req.find("X-Real-IP");
  if (real != ctx.req.end()) {
    if (auto addr = ParseAddress(real->value())) return addr->to_string();
  }
  return PeerText(ctx);
}

std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  auto hex = [](char h) -> int {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    return PercentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1),
                         true);
  }
  return std::nullopt;
}

}  // namespace keycache
