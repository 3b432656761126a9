// L1Cache: the process's in-memory caches of verification data under one byte budget. Thread-safe:
// every member may be called concurrently, and fills are fenced so that a store read that began
// before an invalidation can never put its value back after that invalidation.
//
// Caches and their share of L1Options::max_bytes:
//   validation 60%  KeyId -> shared_ptr<const KeyFacts>
//   scope      10%  (KeyId, required scope) -> allowed?
//   user list  20%  owner_id -> shared_ptr<const std::string> (a rendered JSON body)
//   negative   10%  KeyId -> "no such key"; a budget of its own, so a flood of random ids evicts
//                   only other negative entries, never hot validation entries.
// The fourth cache of the deployment guide, usage, is UsageCounter: pending counts are data to
// flush, not copies of the store, so they are outside this budget and Clear(kUsage) is a no-op.
//
// Contract for writers: after the store commits any change to key `id` (including its creation,
// which may follow a cached "no such key"), call InvalidateKey(id), and InvalidateOwner(owner) for
// changes that alter the owner's list, before answering the request.
// Contract for fills: take the ticket (Begin*Fill) BEFORE reading the store, complete with it
// after.
//
// Scope decisions: each entry carries the key's scope generation (a stripe of a fixed array of
// atomic counters indexed by a hash of the id) and the scope epoch. InvalidateKey bumps the stripe
// after erasing the validation entry, so every decision of that key becomes unreachable at once,
// without an index from keys to their entries; a stale entry is erased when next looked up.
// PutScopeDecision reads the stamp first, then checks the decision against the facts cached at
// that moment, and stores nothing if they disagree or are absent: a decision computed from facts
// that an invalidation has overtaken either fails that check or carries a stamp already outdated.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cache/cache_keys.h"
#include "cache/fill_ticket.h"
#include "cache/sieve_cache.h"
#include "core/cache_type.h"
#include "core/key_facts.h"
#include "core/key_id.h"
#include "util/clock.h"

namespace keycache {

struct L1Options {
  std::size_t max_bytes = std::size_t{512} << 20;
  TimeMs validation_ttl_ms = 300'000;
  TimeMs scope_ttl_ms = 600'000;
  TimeMs user_list_ttl_ms = 1'800'000;
  TimeMs negative_ttl_ms = 30'000;
  std::size_t shards = 16;  // per cache; a power of two
};

struct L1Sizes {
  std::size_t validation = 0;  // entries
  std::size_t scope = 0;
  std::size_t user_list = 0;
  std::size_t negative = 0;
  std::size_t bytes = 0;  // all four caches, by their charges plus per-entry overhead
  std::size_t capacity_bytes = 0;
};

// One ticket fences both outcomes of a store read: facts found, or no such key.
struct FactsFillTicket {
  FillTicket validation;
  FillTicket negative;
};

class L1Cache {
 public:
  // `clock` must outlive the cache.
  L1Cache(L1Options options, const Clock& clock);
  L1Cache(const L1Cache&) = delete;
  L1Cache& operator=(const L1Cache&) = delete;

  // Validation and negative caches.
  std::optional<std::shared_ptr<const KeyFacts>> GetFacts(KeyId id);
  // GetFacts with the entry's deadline, for a front that copies entries (HotFacts).
  struct FactsEntry {
    std::shared_ptr<const KeyFacts> facts;
    TimeMs expires_at = 0;
  };
  std::optional<FactsEntry> GetFactsEntry(KeyId id);
  // How many times validation entries (or scope decisions) were invalidated or cleared so far;
  // it moves after the entries are gone. A copy of an entry taken by a reader who loaded this count
  // before the GetFacts that returned it is current exactly while the count has not moved since.
  std::uint64_t facts_changes() const { return facts_changes_.load(std::memory_order_acquire); }
  bool IsKnownMissing(KeyId id);
  FactsFillTicket BeginFactsFill(KeyId id);
  // False when the fill was overtaken (or `facts` is null or too large); nothing is stored then.
  bool CompleteFactsFill(KeyId id, std::shared_ptr<const KeyFacts> facts,
                         const FactsFillTicket& ticket);
  bool CompleteMissingFill(KeyId id, const FactsFillTicket& ticket);

  // Scope decisions. See the header comment for why Put needs the facts to be cached.
  std::optional<bool> GetScopeDecision(KeyId id, std::string_view scope);
  void PutScopeDecision(KeyId id, std::string_view scope, bool allowed);

  // User lists.
  std::optional<std::shared_ptr<const std::string>> GetUserList(std::string_view owner_id);
  FillTicket BeginUserListFill(std::string_view owner_id);
  // `not_after` caps the entry's life below the TTL: a rendered list shows each key's state,
  // which changes by itself when a key expires or a rotation's grace ends.
  bool CompleteUserListFill(std::string_view owner_id, std::shared_ptr<const std::string> body,
                            FillTicket ticket, TimeMs not_after = kNever);

  // Drops the key's validation, negative and scope entries and refuses fills in flight for it.
  void InvalidateKey(KeyId id);
  void InvalidateOwner(std::string_view owner_id);

  // kValidation also clears the negative cache and the scope decisions derived from the facts.
  void Clear(CacheType type);
  void ClearAll();

  L1Sizes Sizes() const;

  // Caps the life of entries filled from now on (all four caches) below their TTLs; negative =
  // no cap. The Redis tier sets a backstop in normal operation and a short cap while its
  // invalidation channel is down. Entries already cached keep their deadlines: callers that
  // lower the cap because they lost invalidations also clear the cache.
  void SetMaxEntryAge(TimeMs max_age_ms) {
    max_age_ms_.store(max_age_ms, std::memory_order_relaxed);
  }
  TimeMs max_entry_age() const { return max_age_ms_.load(std::memory_order_relaxed); }

  // Heap bytes charged for a validation entry's value (the KeyFacts, its control block, its
  // strings and vector). Exposed for tests and capacity planning.
  static std::size_t FactsCharge(const KeyFacts& facts);

 private:
  struct ScopeDecision {
    std::uint64_t generation;
    std::uint64_t epoch;
    bool allowed;
  };
  using ValidationCache = SieveCache<KeyId, std::shared_ptr<const KeyFacts>>;
  using NegativeCache = SieveCache<KeyId, bool>;
  using ScopeCache = SieveCache<ScopeKey, ScopeDecision, ScopeKeyHash>;
  using UserListCache = SieveCache<std::string, std::shared_ptr<const std::string>, StringHash>;

  static constexpr std::size_t kScopeStripes = 4096;

  TimeMs Deadline(TimeMs ttl_ms) const;
  std::atomic<std::uint64_t>& ScopeStripe(KeyId id) const;
  FillTicket ScopeStamp(KeyId id) const;
  void ClearValidation();
  void ClearScope();

  // Immutable after construction.
  const L1Options options_;
  const Clock& clock_;

  ValidationCache validation_;
  NegativeCache negative_;
  ScopeCache scope_;
  UserListCache user_list_;
  const std::unique_ptr<std::atomic<std::uint64_t>[]> scope_gens_;  // kScopeStripes counters
  std::atomic<std::uint64_t> scope_epoch_{0};
  std::atomic<std::uint64_t> facts_changes_{0};
  std::atomic<TimeMs> max_age_ms_{-1};
};

}  // namespace keycache
