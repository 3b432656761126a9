// L2Keys: the names keycache uses in Redis, all under REDIS_KEY_PREFIX. Per-key names carry the
// key id as a hash tag ({id}), so a key's entry and its generation counter share a Cluster slot.
// Immutable value; thread-safe.
//
//   <prefix>v:{<id>}          validation entry (sealed facts, or "no such key"), with the
//                             generation it was filled under
//   <prefix>g:{<id>}          the key's generation: INCR'd by every change to the key
//   <prefix>u:{<owner>}       an owner's rendered key list, with the owner generation
//   <prefix>og:{<owner>}      the owner's generation
//   <prefix>c:{<id>}:<minute> verifications of the key in that minute, from every instance
//   <prefix>hb:{<instance>}   an instance's heartbeat counter: INCR'd by every heartbeat, so a
//                             Redis that refuses writes fails the heartbeat like a real change
//   <prefix>invalidations     the Pub/Sub channel of invalidation messages and heartbeats
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/cache_type.h"
#include "core/key_id.h"

namespace keycache {

class L2Keys {
 public:
  explicit L2Keys(std::string prefix) : prefix_(std::move(prefix)) {}

  std::string Facts(KeyId id) const { return Tagged("v:", KeyIdToString(id)); }
  std::string Generation(KeyId id) const { return Tagged("g:", KeyIdToString(id)); }
  std::string UserList(std::string_view owner) const { return Tagged("u:", owner); }
  std::string OwnerGeneration(std::string_view owner) const { return Tagged("og:", owner); }
  std::string Usage(KeyId id, std::int64_t minute) const {
    return Tagged("c:", KeyIdToString(id)) + ":" + std::to_string(minute);
  }
  std::string Heartbeat(std::string_view instance) const { return Tagged("hb:", instance); }
  std::string Channel() const { return prefix_ + "invalidations"; }

  // A SCAN MATCH pattern for every entry of `type` (never generation counters), with the
  // prefix's glob characters escaped; "" for kScope, which has no entries in Redis.
  std::string Pattern(CacheType type) const;
  // A SCAN MATCH pattern for everything keycache keeps under the prefix.
  std::string PatternAll() const { return EscapeGlob(prefix_) + "*"; }

  const std::string& prefix() const { return prefix_; }

  static std::string EscapeGlob(std::string_view s);

 private:
  std::string Tagged(std::string_view kind, std::string_view value) const {
    std::string out;
    out.reserve(prefix_.size() + kind.size() + value.size() + 2);
    out.append(prefix_).append(kind).append("{").append(value).append("}");
    return out;
  }

  std::string prefix_;
};

}  // namespace keycache
