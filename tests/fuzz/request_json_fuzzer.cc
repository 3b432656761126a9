// Fuzzes every request-body parser of api/request_parsing.h; the first input byte picks one, the
// rest is the body. Properties: errors are values (nothing throws) with a status, a code and a
// message; an accepted body obeys the documented limits; and the parsed value, rendered back to
// JSON, parses to the same value (so what the API stores is what it would accept again).
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "api/request_parsing.h"
#include "core/key_id.h"
#include "core/scope.h"
#include "fuzz/fuzz_check.h"
#include "util/json.h"
#include "util/time_format.h"

namespace keycache {
namespace {

namespace json = boost::json;

constexpr TimeMs kNow = 1'700'000'000'123;

void CheckError(const ApiError& e) {
  FUZZ_CHECK(e.status == 400 || e.status == 404);
  FUZZ_CHECK(e.error == "invalid_request" || e.error == "invalid_json" || e.error == "not_found");
  FUZZ_CHECK(!e.message.empty());
}

void CheckScopes(const std::vector<std::string>& scopes) {
  FUZZ_CHECK(scopes.size() <= kMaxScopesPerKey);
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    FUZZ_CHECK(IsValidScope(scopes[i]));
    for (std::size_t j = 0; j < i; ++j) FUZZ_CHECK(scopes[i] != scopes[j]);  // deduplicated
  }
}

json::array ScopesJson(const std::vector<std::string>& scopes) {
  json::array a;
  for (const auto& s : scopes) a.emplace_back(s);
  return a;
}

json::value MetadataJson(const std::string& metadata) {
  if (metadata.empty()) return nullptr;
  boost::system::error_code ec;
  json::value v = ParseJson(metadata, ec);  // boost::json::parse would misread some numbers
  FUZZ_CHECK(!ec && v.is_object());         // stored metadata is always a JSON object
  FUZZ_CHECK(metadata.size() <= kMaxMetadataBytes);
  return v;
}

json::value ExpiryJson(TimeMs t) {
  if (t == kNever) return nullptr;
  return json::string(FormatRfc3339(t));
}

// Each Check* asserts the limits of an accepted value and that rendering it back to JSON and
// parsing that gives the same value.
void CheckCreate(const NewKey& k) {
  FUZZ_CHECK(IsValidOwnerId(k.owner_id));
  FUZZ_CHECK(!k.name.empty());
  CheckScopes(k.scopes);
  FUZZ_CHECK(k.expires_at == kNever || k.expires_at > kNow);
  json::object o{{"owner_id", k.owner_id}, {"name", k.name}, {"scopes", ScopesJson(k.scopes)}};
  if (k.expires_at != kNever) o["expires_at"] = ExpiryJson(k.expires_at);
  if (!k.metadata_json.empty()) o["metadata"] = MetadataJson(k.metadata_json);
  Parsed<NewKey> again = ParseCreateKey(json::serialize(o), kNow);
  FUZZ_CHECK(again.ok());
  const NewKey& a = again.value();
  FUZZ_CHECK(a.owner_id == k.owner_id && a.name == k.name && a.scopes == k.scopes);
  FUZZ_CHECK(a.expires_at == k.expires_at && a.metadata_json == k.metadata_json);
}

void CheckPatch(const KeyPatch& p) {
  json::object o;
  if (p.name) o["name"] = *p.name;
  if (p.scopes) {
    CheckScopes(*p.scopes);
    o["scopes"] = ScopesJson(*p.scopes);
  }
  if (p.expires_at) {
    FUZZ_CHECK(*p.expires_at == kNever || *p.expires_at > kNow);
    o["expires_at"] = ExpiryJson(*p.expires_at);
  }
  if (p.enabled) o["enabled"] = *p.enabled;
  if (p.metadata_json) o["metadata"] = MetadataJson(*p.metadata_json);
  FUZZ_CHECK(!o.empty());  // an empty patch is refused
  Parsed<KeyPatch> again = ParsePatchKey(json::serialize(o), kNow);
  FUZZ_CHECK(again.ok());
  const KeyPatch& a = again.value();
  FUZZ_CHECK(a.name == p.name && a.scopes == p.scopes && a.expires_at == p.expires_at);
  FUZZ_CHECK(a.enabled == p.enabled && a.metadata_json == p.metadata_json);
}

void CheckRevoke(const std::string& reason) {
  FUZZ_CHECK(!reason.empty());
  Parsed<std::string> again = ParseRevoke(json::serialize(json::object{{"reason", reason}}));
  FUZZ_CHECK(again.ok() && again.value() == reason);
}

void CheckRotate(TimeMs grace) {
  FUZZ_CHECK(grace >= 0 && grace <= kMaxGraceSeconds * 1000 && grace % 1000 == 0);
  Parsed<TimeMs> again =
      ParseRotate(json::serialize(json::object{{"grace_seconds", grace / 1000}}));
  FUZZ_CHECK(again.ok() && again.value() == grace);
}

void CheckKeyIdParam(std::string_view text, KeyId id) {
  FUZZ_CHECK(id != 0);
  FUZZ_CHECK(KeyIdToString(id) == text);
}

void CheckVerify(const VerifyBody& b) {
  CheckScopes(b.scopes);
  Parsed<VerifyBody> again =
      ParseVerify(json::serialize(json::object{{"key", b.key}, {"scopes", ScopesJson(b.scopes)}}));
  FUZZ_CHECK(again.ok() && again.value().key == b.key && again.value().scopes == b.scopes);
}

void CheckInvalidate(const InvalidateBody& b) {
  json::object o;
  switch (b.target) {
    case InvalidateBody::Target::kAll:
      break;
    case InvalidateBody::Target::kType:
      o["type"] = CacheTypeName(b.type);
      break;
    case InvalidateBody::Target::kKey:
      o["key_id"] = KeyIdToString(b.key_id);
      break;
    case InvalidateBody::Target::kOwner:
      FUZZ_CHECK(IsValidOwnerId(b.owner_id));
      o["owner_id"] = b.owner_id;
      break;
  }
  Parsed<InvalidateBody> again = ParseInvalidate(json::serialize(o));
  FUZZ_CHECK(again.ok());
  const InvalidateBody& a = again.value();
  FUZZ_CHECK(a.target == b.target && a.key_id == b.key_id && a.owner_id == b.owner_id);
  FUZZ_CHECK(b.target != InvalidateBody::Target::kType || a.type == b.type);
}

template <class T, class Check>
void Run(Parsed<T> parsed, Check check) {
  if (parsed.ok()) {
    check(parsed.value());
  } else {
    CheckError(parsed.error());
  }
}

void FuzzOne(std::uint8_t selector, std::string_view body) {
  switch (selector % 7) {
    case 0:
      return Run(ParseCreateKey(body, kNow), CheckCreate);
    case 1:
      return Run(ParsePatchKey(body, kNow), CheckPatch);
    case 2:
      return Run(ParseRevoke(body), CheckRevoke);
    case 3:
      return Run(ParseRotate(body), CheckRotate);
    case 4:
      return Run(ParseKeyIdParam(body), [body](KeyId id) { CheckKeyIdParam(body, id); });
    case 5:
      return Run(ParseVerify(body), CheckVerify);
    default:
      return Run(ParseInvalidate(body), CheckInvalidate);
  }
}

}  // namespace
}  // namespace keycache

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    keycache::FuzzOne(data[0], body);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception escaped a request parser: %s\n", e.what());
    FUZZ_CHECK(!"a request parser threw");
  }
  return 0;
}
