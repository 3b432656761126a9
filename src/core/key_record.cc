#include "core/key_record.h"

namespace keycache {

std::string_view KeyStateName(KeyState s) {
  switch (s) {
    case KeyState::kActive:
      return "active";
    case KeyState::kDisabled:
      return "disabled";
    case KeyState::kRevoked:
      return "revoked";
    case KeyState::kExpired:
      return "expired";
  }
  return "unknown";
}

KeyState StateAt(const KeyRecord& r, TimeMs now) {
  if (r.revoked_at <= now) return KeyState::kRevoked;
  if (!r.enabled) return KeyState::kDisabled;
  if (r.expires_at <= now) return KeyState::kExpired;
  return KeyState::kActive;
}

}  // namespace keycache
