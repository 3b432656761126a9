// InvalidationMessage: what one instance tells the others on the invalidation channel after it
// committed a change: which entries to drop, who sent it and when (the sender's wall clock, in
// microseconds, from which receivers measure the propagation lag). Encoded as a small JSON
// object so operators can read it with redis-cli SUBSCRIBE. Value type; pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cache/l1_cache.h"
#include "core/key_id.h"
#include "util/error.h"

namespace keycache {

struct InvalidationMessage {
  enum class Kind : std::uint8_t { kKey, kOwner, kType, kAll };
  Kind kind = Kind::kKey;
  std::string source;           // the sender's instance id
  std::int64_t sent_at_us = 0;  // the sender's wall clock at publication (Unix microseconds)
  KeyId id = 0;                 // kKey
  std::string owner;            // kKey (may be empty) and kOwner
  CacheType type = CacheType::kValidation;  // kType
};

std::string EncodeInvalidation(const InvalidationMessage& m);
// Errc::kBadInput for anything that is not a message this version understands.
Result<InvalidationMessage> DecodeInvalidation(std::string_view payload);

}  // namespace keycache
