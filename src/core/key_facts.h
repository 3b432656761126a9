// KeyFacts: the part of a KeyRecord that verification needs, and the value the validation cache
// holds. Decide() is the whole verification decision for a key whose id was found. Pure.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/key_hasher.h"
#include "core/key_id.h"
#include "core/key_record.h"
#include "core/verify_code.h"
#include "util/clock.h"

namespace keycache {

struct KeyFacts {
  KeyId id = 0;
  KeyHash hash{};
  TimeMs expires_at = kNever;
  TimeMs revoked_at = kNever;
  bool enabled = true;
  std::string owner_id;
  std::vector<std::string> scopes;

  static KeyFacts From(const KeyRecord& r);
};

// Compares `presented` with the stored hash in constant time (a mismatch is NOT_FOUND, so a
// guessed id reveals nothing), then revoked, disabled, expired, and finally each required scope.
VerifyCode Decide(const KeyFacts& facts, const KeyHash& presented, TimeMs now,
                  std::span<const std::string> required_scopes);

}  // namespace keycache
