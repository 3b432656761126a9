// CacheChange: what a committed change makes stale in every cache of every instance — one key
// (and its owner's key list), an owner's list, a whole cache type, or everything. Plain value.
#pragma once

#include <string>
#include <string_view>

#include "core/cache_type.h"
#include "core/key_id.h"

namespace keycache {

struct CacheChange {
  enum class Kind : unsigned char { kKey, kOwner, kType, kAll };
  Kind kind = Kind::kAll;
  KeyId id = 0;                             // kKey
  std::string owner;                        // kKey (may be empty: unknown owner) and kOwner
  CacheType type = CacheType::kValidation;  // kType

  static CacheChange Key(KeyId id, std::string_view owner) {
    return {Kind::kKey, id, std::string(owner), CacheType::kValidation};
  }
  static CacheChange Owner(std::string_view owner) {
    return {Kind::kOwner, 0, std::string(owner), CacheType::kValidation};
  }
  static CacheChange Type(CacheType type) { return {Kind::kType, 0, std::string(), type}; }
  static CacheChange All() { return {}; }

  friend bool operator==(const CacheChange&, const CacheChange&) = default;
};

}  // namespace keycache
