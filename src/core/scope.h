// Scopes are "resource:action" strings where either side may be "*", or the lone "*" (all).
// A required scope is met when any granted scope matches it. Pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace keycache {

inline constexpr std::size_t kMaxScopeChars = 128;

// "users:read", "reports:*", "*:read", "*". Resource and action: 1..63 chars of
// [A-Za-z0-9_.-] or exactly "*".
bool IsValidScope(std::string_view scope);

// Does `granted` cover `required`? Both are assumed valid.
bool ScopeCovers(std::string_view granted, std::string_view required);

bool ScopesAllow(std::span<const std::string> granted, std::string_view required);

}  // namespace keycache
