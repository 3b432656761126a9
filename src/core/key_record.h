// The stored form of an API key (never the plaintext) and the derived state at a point in time.
// Value types; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/api_key.h"
#include "core/key_hasher.h"
#include "core/key_id.h"
#include "util/clock.h"

namespace keycache {

enum class KeyState : std::uint8_t { kActive, kDisabled, kRevoked, kExpired };
std::string_view KeyStateName(KeyState s);  // "active", "disabled", "revoked", "expired"

inline constexpr std::size_t kMaxNameChars = 100;

struct KeyRecord {
  KeyId id = 0;
  std::string owner_id;
  std::string name;
  std::vector<std::string> scopes;
  KeyHash
      hash{};  // HMAC-SHA256(pepper, key's hashed part: core/api_key.h); never leaves the service
  KeyFormat format = KeyFormat::kTagged;  // the format of the key it was issued as
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  TimeMs expires_at = kNever;
  bool enabled = true;
  // kNever when not revoked. May lie in the future: a rotated key stays valid until then.
  TimeMs revoked_at = kNever;
  std::string revoked_reason;
  KeyId replaced_by = 0;    // 0 = none; set on the old key by rotation
  TimeMs last_used_at = 0;  // 0 = never used
  std::string last_used_ip;
  std::uint64_t usage_count = 0;
  std::string metadata_json;  // "" = none, else the text of a JSON object
};

// Revoked (revoked_at <= now) wins over disabled, which wins over expired.
KeyState StateAt(const KeyRecord& r, TimeMs now);

}  // namespace keycache
