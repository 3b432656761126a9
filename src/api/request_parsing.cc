#include "api/request_parsing.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <initializer_list>

#include "core/key_record.h"
#include "core/scope.h"
#include "util/json.h"
#include "util/time_format.h"

namespace keycache {
namespace {

namespace json = boost::json;

// Parses `body` as a JSON object; an empty body counts as {} when `empty_ok`.
Parsed<json::object> ParseObject(std::string_view body, bool empty_ok) {
  if (std::all_of(body.begin(), body.end(),
                  [](char c) { return std::isspace((unsigned char)c); })) {
    if (empty_ok) return json::object();
    return BadRequest("the request body must be a JSON object");
  }
  boost::system::error_code ec;
  json::value v = ParseJson(body, ec);  // numbers correctly rounded: metadata is stored as sent
  if (ec)
    return ApiError{400, "invalid_json", "the request body is not valid JSON: " + ec.message()};
  if (!v.is_object()) return BadRequest("the request body must be a JSON object");
  return std::move(v.as_object());
}

std::optional<ApiError> RejectUnknown(const json::object& o,
                                      std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : o) {
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end()) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return BadRequest("unknown field '" + std::string(kv.key()) + "'; accepted fields: " + list);
    }
  }
  return std::nullopt;
}

// Characters, not bytes: "é" is one character of a name. Counts UTF-8 lead bytes.
std::size_t CharCount(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool HasControlChars(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

std::optional<ApiError> ReadName(const json::value& v, std::string& out) {
  if (!v.is_string()) return BadRequest("'name' must be a string");
  std::string_view s = v.as_string();
  if (s.empty() || CharCount(s) > kMaxNameChars || HasControlChars(s)) {
    return BadRequest("'name' must be 1..100 characters without control characters");
  }
  out = s;
  return std::nullopt;
}

std::optional<ApiError> ReadScopes(const json::value& v, std::vector<std::string>& out) {
  if (!v.is_array()) return BadRequest("'scopes' must be an array of strings");
  const auto& a = v.as_array();
  if (a.size() > kMaxScopesPerKey) return BadRequest("'scopes' may hold at most 64 entries");
  out.clear();
  for (const auto& s : a) {
    if (!s.is_string()) return BadRequest("'scopes' must be an array of strings");
    std::string_view scope = s.as_string();
    if (!IsValidScope(scope)) {
      return BadRequest("scope '" + std::string(scope.substr(0, kMaxScopeChars)) +
                        "' is not valid; expected resource:action (letters, digits, _ . -) or *");
    }
    if (std::find(out.begin(), out.end(), scope) == out.end()) out.emplace_back(scope);
  }
  return std::nullopt;
}

std::optional<ApiError> ReadExpiresAt(const json::value& v, TimeMs now, TimeMs& out, bool null_ok) {
  if (v.is_null() && null_ok) {
    out = kNever;
    return std::nullopt;
  }
  if (!v.is_string()) return BadRequest("'expires_at' must be an RFC 3339 timestamp string");
  auto t = ParseRfc3339(v.as_string());
  if (!t)
    return BadRequest("'expires_at' is not an RFC 3339 timestamp (e.g. 2027-01-31T00:00:00Z)");
  if (*t <= now) return BadRequest("'expires_at' must be in the future");
  out = *t;
  return std::nullopt;
}

// JSON has no infinities, but a number beyond the range of a double parses to one, and would be
// stored as text that is not JSON (boost::json writes it as "Infinity").
bool AllNumbersFinite(const json::value& v) {
  if (v.is_double()) return std::isfinite(v.get_double());
  if (v.is_array()) {
    const json::array& a = v.get_array();
    return std::all_of(a.begin(), a.end(), AllNumbersFinite);
  }
  if (v.is_object()) {
    const json::object& o = v.get_object();
    return std::all_of(o.begin(), o.end(),
                       [](const auto& kv) { return AllNumbersFinite(kv.value()); });
  }
  return true;
}

std::optional<ApiError> ReadMetadata(const json::value& v, std::string& out, bool null_ok) {
  if (v.is_null() && null_ok) {
    out.clear();
    return std::nullopt;
  }
  if (!v.is_object()) return BadRequest("'metadata' must be a JSON object");
  if (!AllNumbersFinite(v)) {
    return BadRequest("'metadata' holds a number beyond the range of a double (about 1.8e308)");
  }
  out = json::serialize(v);
  if (out.size() > kMaxMetadataBytes) return BadRequest("'metadata' may be at most 4096 bytes");
  return std::nullopt;
}

std::optional<std::int64_t> AsInteger(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.as_uint64());
  }
  return std::nullopt;
}

}  // namespace

bool IsValidOwnerId(std::string_view owner_id) {
  return !owner_id.empty() && CharCount(owner_id) <= kMaxOwnerIdChars &&
         !HasControlChars(owner_id) && owner_id.find('/') == std::string_view::npos;
}

Parsed<NewKey> ParseCreateKey(std::string_view body, TimeMs now) {
  auto parsed = ParseObject(body, false);
  if (!parsed.ok()) return parsed.error();
  const json::object& o = parsed.value();
  if (auto e = RejectUnknown(
          o, {"owner_id", "name", "scopes", "expires_in_days", "expires_at", "metadata"})) {
    return *e;
  }
  NewKey k;
  const json::value* owner = o.if_contains("owner_id");
  if (!owner) return BadRequest("'owner_id' is required");
  if (!owner->is_string() || !IsValidOwnerId(owner->as_string())) {
    return BadRequest(
        "'owner_id' must be a string of 1..128 characters without '/' or control characters");
  }
  k.owner_id = owner->as_string();
  const json::value* name = o.if_contains("name");
  if (!name) return BadRequest("'name' is required");
  if (auto e = ReadName(*name, k.name)) return *e;
  const json::value* scopes = o.if_contains("scopes");
  if (!scopes) return BadRequest("'scopes' is required (an array; [] grants nothing)");
  if (auto e = ReadScopes(*scopes, k.scopes)) return *e;
  const json::value* days = o.if_contains("expires_in_days");
  const json::value* at = o.if_contains("expires_at");
  if (days && at) return BadRequest("give either 'expires_in_days' or 'expires_at', not both");
  if (days) {
    auto n = AsInteger(*days);
    if (!n || *n < 1 || *n > kMaxExpiryDays) {
      return BadRequest("'expires_in_days' must be an integer 1..3650");
    }
    k.expires_at = now + *n * 86'400'000;
  }
  if (at) {
    if (auto e = ReadExpiresAt(*at, now, k.expires_at, false)) return *e;
  }
  if (const json::value* m = o.if_contains("metadata")) {
    if (auto e = ReadMetadata(*m, k.metadata_json, true)) return *e;
  }
  return k;
}

Parsed<KeyPatch> ParsePatchKey(std::string_view body, TimeMs now) {
  auto parsed = ParseObject(body, false);
  if (!parsed.ok()) return parsed.error();
  const json::object& o = parsed.value();
  if (auto e = RejectUnknown(o, {"name", "scopes", "expires_at", "enabled", "metadata"})) return *e;
  if (o.empty())
    return BadRequest("nothing to update: give name, scopes, expires_at, enabled or metadata");
  KeyPatch p;
  if (const json::value* v = o.if_contains("name")) {
    std::string name;
    if (auto e = ReadName(*v, name)) return *e;
    p.name = std::move(name);
  }
  if (const json::value* v = o.if_contains("scopes")) {
    std::vector<std::string> scopes;
    if (auto e = ReadScopes(*v, scopes)) return *e;
    p.scopes = std::move(scopes);
  }
  if (const json::value* v = o.if_contains("expires_at")) {
    TimeMs t;
    if (auto e = ReadExpiresAt(*v, now, t, true)) return *e;
    p.expires_at = t;
  }
  if (const json::value* v = o.if_contains("enabled")) {
    if (!v->is_bool()) return BadRequest("'enabled' must be true or false");
    p.enabled = v->as_bool();
  }
  if (const json::value* v = o.if_contains("metadata")) {
    std::string m;
    if (auto e = ReadMetadata(*v, m, true)) return *e;
    p.metadata_json = std::move(m);
  }
  return p;
}

Parsed<std::string> ParseRevoke(std::string_view body) {
  auto parsed = ParseObject(body, true);
  if (!parsed.ok()) return parsed.error();
  const json::object& o = parsed.value();
  if (auto e = RejectUnknown(o, {"reason"})) return *e;
  std::string reason = "revoked";
  if (const json::value* v = o.if_contains("reason")) {
    if (!v->is_string() || CharCount(v->as_string()) > kMaxReasonChars ||
        HasControlChars(v->as_string())) {
      return BadRequest("'reason' must be a string of at most 200 characters");
    }
    if (!v->as_string().empty()) reason = v->as_string();
  }
  return reason;
}

Parsed<TimeMs> ParseRotate(std::string_view body) {
  auto parsed = ParseObject(body, true);
  if (!parsed.ok()) return parsed.error();
  const json::object& o = parsed.value();
  if (auto e = RejectUnknown(o, {"grace_seconds"})) return *e;
  TimeMs grace = 0;
  if (const json::value* v = o.if_contains("grace_seconds")) {
    auto n = AsInteger(*v);
    if (!n || *n < 0 || *n > kMaxGraceSeconds) {
      return BadRequest("'grace_seconds' must be an integer 0..2592000 (30 days)");
    }
    grace = *n * 1000;
  }
  return grace;
}

Parsed<KeyId> ParseKeyIdParam(std::string_view text) {
  auto id = ParseKeyId(text);
  if (!id || *id == 0) {
    return ApiError{404, "not_found", "no key with id '" + std::string(text.substr(0, 64)) + "'"};
  }
  return *id;
}

Parsed<VerifyBody> ParseVerify(std::string_view body) {
  auto parsed = ParseObject(body, false);
  if (!parsed.ok()) return parsed.error();
  const json::object& o = parsed.value();
  if (auto e = RejectUnknown(o, {"key", "scopes"})) return *e;
  VerifyBody b;
  const json::value* key = o.if_contains("key");
  if (!key || !key->is_string()) return BadRequest("'key' is required and must be a string");
  b.key = key->as_string();
  if (const json::value* v = o.if_contains("scopes")) {
    if (auto e = ReadScopes(*v, b.scopes)) return *e;
  }
  return b;
}

Parsed<InvalidateBody> ParseInvalidate(std::string_view body) {
  auto parsed = ParseObject(body, true);
  if (!parsed.ok()) return parsed.error();
  const json::object& o = parsed.value();
  if (auto e = RejectUnknown(o, {"type", "key_id", "owner_id"})) return *e;
  const int given = (o.contains("type") ? 1 : 0) + (o.contains("key_id") ? 1 : 0) +
                    (o.contains("owner_id") ? 1 : 0);
  if (given > 1) return BadRequest("give at most one of 'type', 'key_id', 'owner_id'");
  InvalidateBody b;
  if (const json::value* v = o.if_contains("type")) {
    static constexpr std::pair<std::string_view, CacheType> kTypes[] = {
        {"validation", CacheType::kValidation},
        {"scope", CacheType::kScope},
        {"user_list", CacheType::kUserList},
        {"usage", CacheType::kUsage}};
    if (!v->is_string()) return BadRequest("'type' must be a string");
    std::string_view t = v->as_string();
    if (t == "all") return b;
    for (const auto& [name, type] : kTypes) {
      if (t == name) {
        b.target = InvalidateBody::Target::kType;
        b.type = type;
        return b;
      }
    }
    return BadRequest("'type' must be one of validation, scope, user_list, usage, all");
  }
  if (const json::value* v = o.if_contains("key_id")) {
    auto id = v->is_string() ? ParseKeyId(v->as_string()) : std::nullopt;
    if (!id) return BadRequest("'key_id' must be an 11-character key id");
    b.target = InvalidateBody::Target::kKey;
    b.key_id = *id;
    return b;
  }
  if (const json::value* v = o.if_contains("owner_id")) {
    if (!v->is_string() || !IsValidOwnerId(v->as_string())) {
      return BadRequest("'owner_id' must be a string of 1..128 characters");
    }
    b.target = InvalidateBody::Target::kOwner;
    b.owner_id = v->as_string();
  }
  return b;
}

}  // namespace keycache
