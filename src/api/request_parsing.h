// Strict parsers for the JSON bodies of the REST API: wrong types, unknown fields, out-of-range
// values and malformed JSON each come back as an ApiError that names the field and what it
// accepts. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/api_error.h"
#include "cache/l1_cache.h"
#include "core/key_id.h"
#include "service/key_service.h"
#include "store/key_store.h"
#include "util/clock.h"

namespace keycache {

inline constexpr std::size_t kMaxOwnerIdChars = 128;
inline constexpr std::size_t kMaxScopesPerKey = 64;
inline constexpr std::size_t kMaxMetadataBytes = 4096;
inline constexpr std::size_t kMaxReasonChars = 200;
inline constexpr std::int64_t kMaxExpiryDays = 3650;
inline constexpr std::int64_t kMaxGraceSeconds = 30 * 24 * 3600;

Parsed<NewKey> ParseCreateKey(std::string_view body, TimeMs now);
Parsed<KeyPatch> ParsePatchKey(std::string_view body, TimeMs now);
Parsed<std::string> ParseRevoke(std::string_view body);  // the reason ("" if none)
Parsed<TimeMs> ParseRotate(std::string_view body);       // grace in ms
Parsed<KeyId> ParseKeyIdParam(std::string_view text);
bool IsValidOwnerId(std::string_view owner_id);

struct VerifyBody {
  std::string key;
  std::vector<std::string> scopes;
};
Parsed<VerifyBody> ParseVerify(std::string_view body);

struct InvalidateBody {
  enum class Target { kType, kAll, kKey, kOwner } target = Target::kAll;
  CacheType type = CacheType::kValidation;
  KeyId key_id = 0;
  std::string owner_id;
};
Parsed<InvalidateBody> ParseInvalidate(std::string_view body);

}  // namespace keycache
