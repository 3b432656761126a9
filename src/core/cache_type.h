// CacheType: the four caches of the deployment guide, as operators name them in
// /admin/cache/invalidate and in metric labels. Vocabulary shared by every layer; pure.
#pragma once

#include <optional>
#include <string_view>

namespace keycache {

enum class CacheType { kValidation, kScope, kUserList, kUsage };

inline constexpr CacheType kCacheTypes[] = {CacheType::kValidation, CacheType::kScope,
                                            CacheType::kUserList, CacheType::kUsage};

// "validation", "scope", "user_list", "usage".
std::string_view CacheTypeName(CacheType type);
// The inverse of CacheTypeName; nullopt for any other text.
std::optional<CacheType> ParseCacheType(std::string_view name);

}  // namespace keycache
