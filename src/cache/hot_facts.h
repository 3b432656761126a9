// HotFacts: the verification hit path's per-thread front of L1Cache's validation entries.
//
// An L1 hit locks a shard mutex and, for the scope decision, a second one; with several I/O
// threads those mutexes' cache lines move between cores on nearly every verification (each
// thread touches every shard), and a key verified on several threads shares its KeyFacts'
// reference count. HotFacts gives each thread a small four-way set-associative table of its own
// copies of hot entries (and of their scope decisions): a hit there reads one process-wide counter
// (L1Cache::facts_changes) and writes only memory of its own thread.
//
// Coherence: a copy is used only while L1Cache::facts_changes() still has the value it had
// before the L1 read that the copy was taken from, and never past the L1 entry's deadline.
// L1Cache moves that count after every invalidation or clear has removed its entries, so a
// verification that starts after an invalidation returned never uses a copy from before it, the
// same guarantee L1 itself gives. Any invalidation retires every copy of every thread (they are
// refilled from L1 on their next use): invalidations are rare next to verifications.
//
// Admission: a key gets a copy on its second L1 hit while its set has a free (or outdated) way,
// and, once the set is full, only when it is looked up twice in a row there (no other key of the
// set looked up between), replacing the way used least recently. So a stream of distinct keys
// (more than the table holds) costs no copying, keys taking turns in a full set do not keep
// displacing each other, and a hot key is copied once.
//
// Threads: slot util::ThisThreadSlot(); a slot is taken with an uncontended exchange on the
// slot's own cache line. A thread whose slot is busy (more threads than slots) is told so and
// uses L1Cache directly. Memory: at most kMetricSlots tables of `entries` entries, each holding a
// KeyFacts copy, outside the L1 byte budget (with the default 4096 entries: 544 KiB of table per
// verifying thread, plus the copies of the keys admitted). Four ways per set: with 1,000 hot keys
// taking turns in the default 1,024 sets, about 0.4 % of them find their set full and are
// answered by L1 (expected, Poisson), against 3.1 % with two ways and 11 % direct-mapped in a
// table of the same size; those L1 answers take the shard mutexes that several threads share.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cache/l1_cache.h"
#include "core/key_facts.h"
#include "core/key_id.h"
#include "core/proof_tag.h"
#include "util/clock.h"
#include "util/thread_slot.h"

namespace keycache {

class HotFacts {
  struct SlotStorage;

 public:
  static constexpr std::size_t kDefaultEntries = 4096;
  static constexpr std::size_t kDecisionsPerEntry = 2;
  static constexpr std::size_t kWays = 4;

  // `entries` per thread, rounded up to a power of two (at least kWays); 0 turns the front off
  // (every View is empty). `l1` must outlive this.
  explicit HotFacts(L1Cache& l1, std::size_t entries = kDefaultEntries);
  HotFacts(const HotFacts&) = delete;
  HotFacts& operator=(const HotFacts&) = delete;

  struct Entry;

  // What Find returns: the facts (null when L1 has none), and this thread's entry for them when
  // the answer came from (or was just copied into) its table; the entry stays valid while the
  // View lives.
  struct Found {
    std::shared_ptr<const KeyFacts> facts;
    Entry* entry = nullptr;
  };

  // This thread's table, held for one verification. Empty when the front is off or the slot is
  // held by another thread: then use L1Cache.
  class View {
   public:
    View(View&& other) noexcept : owner_(other.owner_), slot_(other.slot_) {
      other.slot_ = nullptr;
    }
    View& operator=(View&&) = delete;
    ~View();
    explicit operator bool() const { return slot_ != nullptr; }

    // Precondition: the View is not empty. `now` is the caller's clock reading.
    Found Find(KeyId id, TimeMs now);
    // This thread's current copy of `id` alone, L1 not consulted and nothing admitted: null when
    // there is none (or it is outdated). Precondition as Find's.
    Entry* Peek(KeyId id, TimeMs now);
    // Scope decisions kept with an entry that Find returned.
    static std::optional<bool> Decision(const Entry& entry, std::string_view scope);
    static void RememberDecision(Entry& entry, std::string_view scope, bool allowed);

   private:
    friend class HotFacts;
    View(HotFacts& owner, SlotStorage* slot) : owner_(owner), slot_(slot) {}
    std::size_t SetOf(KeyId id) const;
    // The way of `set` holding a current copy of `id`, or -1.
    int Way(std::size_t set, KeyId id, std::uint64_t changes, TimeMs now) const;
    HotFacts& owner_;
    SlotStorage* slot_;
  };

  View Acquire();
  // A View with no table (the caller does without the front).
  View Empty() { return View(*this, nullptr); }

  struct Decision {
    std::string scope;
    bool allowed = false;
  };
  struct Entry {
    KeyId id = 0;
    bool used = false;
    std::uint64_t changes = 0;  // L1Cache::facts_changes() before the read it was copied from
    TimeMs expires_at = 0;      // the L1 entry's deadline
    std::shared_ptr<const KeyFacts> facts;  // this thread's own copy
    std::array<Decision, kDecisionsPerEntry> decisions;
    std::uint8_t decision_count = 0;
    // Set by the verifier once a presentation of this key passed every check (format, checksum,
    // HMAC) on this copy: the ProofTag of that whole presented key (core/proof_tag.h). Cleared
    // with every new copy.
    bool proven = false;
    ProofTag proof{};
  };

 private:
  L1Cache& l1_;
  const std::size_t entries_;  // power of two, or 0
  struct SetState {
    std::array<KeyId, kWays> missed{};  // the ids of the set's last L1 hits (most recent first)
    KeyId last = 0;                     // the id last looked up in the set (hit or not)
    // The set's use count when each way was last used: the smallest is the least recent. (A
    // wrap after 2^32 uses of one set only misplaces a few evictions.)
    std::uint32_t tick = 0;
    std::array<std::uint32_t, kWays> used_at{};
  };
  struct alignas(kCacheLineBytes) SlotStorage {
    std::atomic<bool> busy{false};
    std::unique_ptr<Entry[]> entries;  // allocated on first use; set i is [i*kWays, +kWays)
    std::unique_ptr<SetState[]> sets;
  };
  std::unique_ptr<SlotStorage[]> slots_;  // kMetricSlots
};

}  // namespace keycache
