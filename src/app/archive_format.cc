#include "app/archive_format.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/key_hasher.h"
#include "core/key_id.h"
#include "util/clock.h"

namespace keycache {
namespace {

constexpr std::string_view kFormat = "keycache-export";
constexpr std::string_view kFingerprintLabel = "keycache export pepper fingerprint v1";

std::string Hex(const std::uint8_t* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

boost::json::value TimeOrNull(TimeMs t, TimeMs null_value) {
  if (t == null_value) return nullptr;
  return t;
}

boost::system::error_code Bad(std::string& why, std::string text) {
  why = std::move(text);
  return make_error_code(Errc::kBadInput);
}

// Readers of one object's members; each sets `why` and returns false when the member is
// missing or of the wrong type.
class Fields {
 public:
  Fields(const boost::json::object& o, std::string& why) : o_(o), why_(why) {}

  bool Str(std::string_view name, std::string& out) {
    const auto* v = o_.if_contains(name);
    if (!v || !v->is_string()) return Fail(name, "a string");
    out = v->as_string();
    return true;
  }
  bool Int(std::string_view name, std::int64_t& out) {
    const auto* v = o_.if_contains(name);
    if (v && v->is_int64()) {
      out = v->as_int64();
      return true;
    }
    if (v && v->is_uint64() && v->as_uint64() <= INT64_MAX) {
      out = static_cast<std::int64_t>(v->as_uint64());
      return true;
    }
    return Fail(name, "an integer");
  }
  bool IntOrNull(std::string_view name, std::int64_t null_value, std::int64_t& out) {
    const auto* v = o_.if_contains(name);
    if (v && v->is_null()) {
      out = null_value;
      return true;
    }
    return Int(name, out);
  }
  bool Bool(std::string_view name, bool& out) {
    const auto* v = o_.if_contains(name);
    if (!v || !v->is_bool()) return Fail(name, "true or false");
    out = v->as_bool();
    return true;
  }
  bool Id(std::string_view name, bool nullable, KeyId& out) {
    const auto* v = o_.if_contains(name);
    if (nullable && v && v->is_null()) {
      out = 0;
      return true;
    }
    if (!v || !v->is_string()) return Fail(name, "a key id");
    auto parsed = ParseKeyId(v->as_string());
    if (!parsed) return Fail(name, "a key id");
    out = *parsed;
    return true;
  }

 private:
  bool Fail(std::string_view name, std::string_view what) {
    why_ = "\"" + std::string(name) + "\" is missing or not " + std::string(what);
    return false;
  }
  const boost::json::object& o_;
  std::string& why_;
};

Result<boost::json::object> ParseObject(std::string_view line, std::string& why) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(line, ec);
  if (ec) return Bad(why, "not JSON (" + ec.message() + ")");
  if (!v.is_object()) return Bad(why, "not a JSON object");
  return std::move(v.as_object());
}

}  // namespace

std::string PepperFingerprint(std::string_view pepper) {
  const KeyHash h = KeyHasher(pepper).Hash(kFingerprintLabel);
  return Hex(h.data(), 8);
}

std::string EncodeArchiveHeader(const ArchiveHeader& h) {
  boost::json::object o;
  o["format"] = kFormat;
  o["version"] = h.version;
  o["count"] = h.count;
  o["pepper_fingerprint"] = h.pepper_fingerprint;
  o["exported_at"] = h.exported_at;
  return boost::json::serialize(o);
}

std::string EncodeArchiveRecord(const KeyRecord& r) {
  boost::json::object o;
  o["id"] = KeyIdToString(r.id);
  o["owner_id"] = r.owner_id;
  o["name"] = r.name;
  boost::json::array scopes;
  for (const std::string& s : r.scopes) scopes.emplace_back(s);
  o["scopes"] = std::move(scopes);
  o["key_hash"] = Hex(r.hash.data(), r.hash.size());
  o["key_format"] = static_cast<int>(r.format);
  o["created_at"] = r.created_at;
  o["updated_at"] = r.updated_at;
  o["expires_at"] = TimeOrNull(r.expires_at, kNever);
  o["enabled"] = r.enabled;
  o["revoked_at"] = TimeOrNull(r.revoked_at, kNever);
  o["revoked_reason"] = r.revoked_reason;
  if (r.replaced_by == 0) {
    o["replaced_by"] = nullptr;
  } else {
    o["replaced_by"] = KeyIdToString(r.replaced_by);
  }
  o["last_used_at"] = TimeOrNull(r.last_used_at, 0);
  o["last_used_ip"] = r.last_used_ip;
  o["usage_count"] = r.usage_count;
  if (r.metadata_json.empty()) {
    o["metadata"] = nullptr;
  } else {
    o["metadata"] = r.metadata_json;
  }
  return boost::json::serialize(o);
}

Result<ArchiveHeader> DecodeArchiveHeader(std::string_view line, std::string& why) {
  auto o = ParseObject(line, why);
  if (!o) return o.error();
  Fields f(*o, why);
  std::string format;
  if (!f.Str("format", format) || format != kFormat) {
    return Bad(why, "not a keycache export file (its first line has no \"format\":\"" +
                        std::string(kFormat) + "\")");
  }
  ArchiveHeader h;
  std::int64_t version = 0, count = 0;
  if (!f.Int("version", version)) return make_error_code(Errc::kBadInput);
  if (version != kArchiveVersion) {
    return Bad(why, "format version " + std::to_string(version) + "; this keycached reads " +
                        std::to_string(kArchiveVersion));
  }
  h.version = static_cast<int>(version);
  if (!f.Int("count", count) || count < 0) return Bad(why, "\"count\" is not a record count");
  h.count = static_cast<std::uint64_t>(count);
  if (!f.Str("pepper_fingerprint", h.pepper_fingerprint) || h.pepper_fingerprint.size() != 16) {
    return Bad(why, "\"pepper_fingerprint\" is missing or malformed");
  }
  if (!f.Str("exported_at", h.exported_at)) return make_error_code(Errc::kBadInput);
  return h;
}

Result<KeyRecord> DecodeArchiveRecord(std::string_view line, std::string& why) {
  auto o = ParseObject(line, why);
  if (!o) return o.error();
  Fields f(*o, why);
  KeyRecord r;
  std::string hash;
  std::int64_t usage = 0;
  std::int64_t format = 0;
  if (!f.Id("id", false, r.id) || !f.Str("owner_id", r.owner_id) || !f.Str("name", r.name) ||
      !f.Str("key_hash", hash) || !f.Int("key_format", format) ||
      !f.Int("created_at", r.created_at) || !f.Int("updated_at", r.updated_at) ||
      !f.IntOrNull("expires_at", kNever, r.expires_at) || !f.Bool("enabled", r.enabled) ||
      !f.IntOrNull("revoked_at", kNever, r.revoked_at) ||
      !f.Str("revoked_reason", r.revoked_reason) || !f.Id("replaced_by", true, r.replaced_by) ||
      !f.IntOrNull("last_used_at", 0, r.last_used_at) || !f.Str("last_used_ip", r.last_used_ip) ||
      !f.Int("usage_count", usage)) {
    return make_error_code(Errc::kBadInput);
  }
  if (r.owner_id.empty()) return Bad(why, "\"owner_id\" is empty");
  if (usage < 0) return Bad(why, "\"usage_count\" is negative");
  if (format != static_cast<int>(KeyFormat::kLegacy) &&
      format != static_cast<int>(KeyFormat::kTagged)) {
    return Bad(why, "\"key_format\" is neither 1 (legacy) nor 2 (tagged)");
  }
  r.format = static_cast<KeyFormat>(format);
  r.usage_count = static_cast<std::uint64_t>(usage);
  if (hash.size() != 2 * r.hash.size()) return Bad(why, "\"key_hash\" is not 64 hex digits");
  for (std::size_t i = 0; i < r.hash.size(); ++i) {
    const int hi = HexDigit(hash[2 * i]), lo = HexDigit(hash[2 * i + 1]);
    if (hi < 0 || lo < 0) return Bad(why, "\"key_hash\" is not 64 hex digits");
    r.hash[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  const auto* scopes = o->if_contains("scopes");
  if (!scopes || !scopes->is_array()) return Bad(why, "\"scopes\" is missing or not an array");
  for (const auto& s : scopes->as_array()) {
    if (!s.is_string()) return Bad(why, "\"scopes\" holds something that is not a string");
    r.scopes.emplace_back(s.as_string());
  }
  const auto* metadata = o->if_contains("metadata");
  if (!metadata) return Bad(why, "\"metadata\" is missing");
  if (metadata->is_string()) {
    r.metadata_json = metadata->as_string();
    boost::system::error_code ec;
    const boost::json::value parsed = boost::json::parse(r.metadata_json, ec);
    if (ec || !parsed.is_object()) return Bad(why, "\"metadata\" is not the text of a JSON object");
  } else if (!metadata->is_null()) {
    return Bad(why, "\"metadata\" is neither null nor a string");
  }
  return r;
}

}  // namespace keycache
