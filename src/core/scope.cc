#include "core/scope.h"

#include <algorithm>

namespace keycache {
namespace {

constexpr std::size_t kMaxPartChars = 63;

bool IsValidPart(std::string_view part) {
  if (part == "*") return true;
  if (part.empty() || part.size() > kMaxPartChars) return false;
  return std::all_of(part.begin(), part.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

struct Parts {
  std::string_view resource;
  std::string_view action;
};

// The lone "*" is read as "*:*": both mean every resource and every action, so each covers the
// other.
bool Split(std::string_view scope, Parts& out) {
  if (scope == "*") {
    out = {"*", "*"};
    return true;
  }
  const std::size_t colon = scope.find(':');
  if (colon == std::string_view::npos) return false;
  out = {scope.substr(0, colon), scope.substr(colon + 1)};
  return true;
}

// A granted side covers a required side when it is "*" or the same name. A required "*" is thus
// covered only by a granted "*": "users:read" does not cover "users:*".
bool PartCovers(std::string_view granted, std::string_view required) {
  return granted == "*" || granted == required;
}

}  // namespace

bool IsValidScope(std::string_view scope) {
  if (scope.size() > kMaxScopeChars) return false;
  if (scope == "*") return true;
  const std::size_t colon = scope.find(':');
  if (colon == std::string_view::npos) return false;
  return IsValidPart(scope.substr(0, colon)) && IsValidPart(scope.substr(colon + 1));
}

bool ScopeCovers(std::string_view granted, std::string_view required) {
  Parts g;
  Parts r;
  // Malformed input (outside the contract) gets the narrowest reading: exact match only.
  if (!Split(granted, g) || !Split(required, r)) return granted == required;
  return PartCovers(g.resource, r.resource) && PartCovers(g.action, r.action);
}

bool ScopesAllow(std::span<const std::string> granted, std::string_view required) {
  return std::any_of(granted.begin(), granted.end(),
                     [required](const std::string& g) { return ScopeCovers(g, required); });
}

}  // namespace keycache
