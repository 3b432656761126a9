#include "core/cache_type.h"

namespace keycache {

std::string_view CacheTypeName(CacheType type) {
  switch (type) {
    case CacheType::kValidation:
      return "validation";
    case CacheType::kScope:
      return "scope";
    case CacheType::kUserList:
      return "user_list";
    case CacheType::kUsage:
      return "usage";
  }
  return "unknown";
}

std::optional<CacheType> ParseCacheType(std::string_view name) {
  for (CacheType t : kCacheTypes) {
    if (CacheTypeName(t) == name) return t;
  }
  return std::nullopt;
}

}  // namespace keycache
