#include "core/key_facts.h"

#include "core/scope.h"

namespace keycache {

KeyFacts KeyFacts::From(const KeyRecord& r) {
  KeyFacts f;
  f.id = r.id;
  f.hash = r.hash;
  f.expires_at = r.expires_at;
  f.revoked_at = r.revoked_at;
  f.enabled = r.enabled;
  f.owner_id = r.owner_id;
  f.scopes = r.scopes;
  return f;
}

VerifyCode Decide(const KeyFacts& facts, const KeyHash& presented, TimeMs now,
                  std::span<const std::string> required_scopes) {
  // The hash comes first so that nothing about a record (state, scopes) is revealed to a
  // caller who only knows its id.
  if (!HashEquals(facts.hash, presented)) return VerifyCode::kNotFound;
  // Same precedence as StateAt().
  if (facts.revoked_at <= now) return VerifyCode::kRevoked;
  if (!facts.enabled) return VerifyCode::kDisabled;
  if (facts.expires_at <= now) return VerifyCode::kExpired;
  for (const std::string& required : required_scopes) {
    if (!ScopesAllow(facts.scopes, required)) return VerifyCode::kInsufficientScope;
  }
  return VerifyCode::kValid;
}

}  // namespace keycache
