// The outcome of one verification. An outcome is data, not an error: every code is a normal
// answer that the HTTP layer renders (200 for /v1/keys/verify, 200/401/403 for /v1/auth).
#pragma once

#include <cstdint>
#include <string_view>

namespace keycache {

enum class VerifyCode : std::uint8_t {
  kValid,
  kMalformed,
  kNotFound,
  kExpired,
  kDisabled,
  kRevoked,
  kInsufficientScope,
};
inline constexpr int kVerifyCodeCount = 7;

// "VALID", "MALFORMED", "NOT_FOUND", "EXPIRED", "DISABLED", "REVOKED", "INSUFFICIENT_SCOPE"
std::string_view VerifyCodeName(VerifyCode c);

}  // namespace keycache
