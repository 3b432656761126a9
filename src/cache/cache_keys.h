// Key types and transparent hashes for the L1 caches, so lookups by std::string_view allocate
// nothing. Value types; pure functions.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "cache/hash_mix.h"
#include "core/key_id.h"

namespace keycache {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

// A scope decision is cached per (key id, required scope).
struct ScopeKey {
  KeyId id = 0;
  std::string scope;
};

struct ScopeKeyView {
  KeyId id = 0;
  std::string_view scope;
};

inline bool operator==(const ScopeKey& a, const ScopeKey& b) {
  return a.id == b.id && a.scope == b.scope;
}
inline bool operator==(const ScopeKey& a, const ScopeKeyView& b) {
  return a.id == b.id && a.scope == b.scope;
}

struct ScopeKeyHash {
  using is_transparent = void;
  std::size_t operator()(ScopeKeyView k) const noexcept {
    return MixHash(k.id) ^ std::hash<std::string_view>{}(k.scope);
  }
  std::size_t operator()(const ScopeKey& k) const noexcept {
    return (*this)(ScopeKeyView{k.id, k.scope});
  }
};

}  // namespace keycache
