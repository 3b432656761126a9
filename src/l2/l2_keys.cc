#include "l2/l2_keys.h"

namespace keycache {

std::string L2Keys::EscapeGlob(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string L2Keys::Pattern(CacheType type) const {
  const std::string p = EscapeGlob(prefix_);
  switch (type) {
    case CacheType::kValidation:
      return p + "v:*";
    case CacheType::kUserList:
      return p + "u:*";
    case CacheType::kUsage:
      return p + "c:*";
    case CacheType::kScope:
      break;
  }
  // Scope decisions are not kept in Redis: they are derived from the validation entry's scope
  // list (docs/adr/0003-redis-tier.md).
  return {};
}

}  // namespace keycache
