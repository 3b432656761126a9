// InvalidationMessage: what travels on the invalidation channel. Either a change one instance
// committed (which entries every other instance must drop), or a heartbeat: each instance publishes
// its own every heartbeat interval and renews its coherence lease when it hears it back (Pub/Sub
// delivers in order, so hearing it proves every earlier message reached us; docs/adr/0003).
// A third kind asks every instance to warm its caches (POST /admin/cache/warm on any instance).
// Every message carries its sender and the sender's wall clock in microseconds, from which
// receivers measure the propagation lag. Encoded as a small JSON object so operators can read it
// with redis-cli SUBSCRIBE. Value type; pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/cache_change.h"
#include "util/error.h"

namespace keycache {

struct InvalidationMessage {
  std::string source;           // the sender's instance id
  std::int64_t sent_at_us = 0;  // the sender's wall clock at publication (Unix microseconds)
  bool heartbeat = false;
  std::uint64_t heartbeat_seq = 0;  // heartbeat: the sender's sequence number
  bool warm = false;                // a warm-up request (never together with heartbeat)
  CacheChange change;               // neither heartbeat nor warm

  friend bool operator==(const InvalidationMessage&, const InvalidationMessage&) = default;
};

std::string EncodeInvalidation(const InvalidationMessage& m);
// Errc::kBadInput for anything that is not a message this version understands.
Result<InvalidationMessage> DecodeInvalidation(std::string_view payload);

}  // namespace keycache
