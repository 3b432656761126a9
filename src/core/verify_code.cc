#include "core/verify_code.h"

namespace keycache {

std::string_view VerifyCodeName(VerifyCode c) {
  switch (c) {
    case VerifyCode::kValid:
      return "VALID";
    case VerifyCode::kMalformed:
      return "MALFORMED";
    case VerifyCode::kNotFound:
      return "NOT_FOUND";
    case VerifyCode::kExpired:
      return "EXPIRED";
    case VerifyCode::kDisabled:
      return "DISABLED";
    case VerifyCode::kRevoked:
      return "REVOKED";
    case VerifyCode::kInsufficientScope:
      return "INSUFFICIENT_SCOPE";
  }
  return "UNKNOWN";
}

}  // namespace keycache
