// EntrySealer: the byte format of L2 values, sealed with a 128-bit HMAC-SHA256 tag under a key
// derived from the pepper and bound to the entry's Redis key name. Reading Redis therefore never
// helps verify or forge an API key (the stored hash is itself an HMAC under the pepper), and
// writing Redis cannot invent or alter entries: an entry that fails its tag is treated as a miss
// and counted. (Replaying an old sealed entry is not prevented by the seal; generations and the
// TTL bound it. See docs/adr/0003-redis-tier.md.)
// Immutable after construction; all members are const and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/facts_answer.h"
#include "core/key_facts.h"
#include "core/key_hasher.h"
#include "util/error.h"

namespace keycache {

// An opened validation entry: the generation it was filled under and what it says (the facts,
// or "no such key").
struct FactsEntry {
  std::uint64_t generation = 0;
  FactsAnswer answer = FactsAnswer::Absent();
};

// An opened blob entry (an owner's rendered key list).
struct BlobEntry {
  std::uint64_t generation = 0;
  std::string body;
};

class EntrySealer {
 public:
  // Precondition: pepper.size() >= kMinPepperBytes.
  explicit EntrySealer(std::string_view pepper);

  // `name` is the Redis key the value is stored under.
  std::string SealFacts(std::string_view name, std::uint64_t generation,
                        const FactsAnswer& answer) const;
  // Errc::kBadInput for a value that is malformed, of another kind, or fails its tag.
  Result<FactsEntry> OpenFacts(std::string_view name, KeyId id, std::string_view value) const;

  std::string SealBlob(std::string_view name, std::uint64_t generation,
                       std::string_view body) const;
  Result<BlobEntry> OpenBlob(std::string_view name, std::string_view value) const;

 private:
  void AppendTag(std::string_view name, std::string& value) const;
  bool TagMatches(std::string_view name, std::string_view value) const;

  KeyHasher mac_;  // keyed with HMAC(pepper, "keycache l2 seal v1")
};

}  // namespace keycache
