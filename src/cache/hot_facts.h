// HotFacts: the verification hit path's per-thread front of L1Cache's validation entries.
//
// An L1 hit locks a shard mutex and, for the scope decision, a second one; with several I/O
// threads those mutexes' cache lines move between cores on nearly every verification (each
// thread touches every shard), and a key verified on several threads shares its KeyFacts'
// reference count. HotFacts gives each thread a small direct-mapped table of its own copies of
// hot entries (and of their scope decisions): a hit there reads one process-wide counter
// (L1Cache::facts_changes) and writes only memory of its own thread.
//
// Coherence: a copy is used only while L1Cache::facts_changes() still has the value it had
// before the L1 read that the copy was taken from, and never past the L1 entry's deadline.
// L1Cache moves that count after every invalidation or clear has removed its entries, so a
// verification that starts after an invalidation returned never uses a copy from before it, the
// same guarantee L1 itself gives. Any invalidation retires every copy of every thread (they are
// refilled from L1 on their next use): invalidations are rare next to verifications.
//
// Admission: a key gets a copy on its second L1 hit in a row at its table position, so a stream
// of distinct keys (more than the table holds) costs no copying, and a hot key is copied once.
//
// Threads: slot util::ThisThreadSlot(); a slot is taken with an uncontended exchange on the
// slot's own cache line. A thread whose slot is busy (more threads than slots) is told so and
// uses L1Cache directly. Memory: at most kMetricSlots tables of `entries` entries, each holding a
// KeyFacts copy, outside the L1 byte budget (with the defaults, a few hundred KiB per I/O thread).
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
#include "util/clock.h"
#include "util/thread_slot.h"

namespace keycache {

class HotFacts {
  struct SlotStorage;

 public:
  static constexpr std::size_t kDefaultEntries = 1024;
  static constexpr std::size_t kDecisionsPerEntry = 2;

  // `entries` per thread, rounded up to a power of two; 0 turns the front off (every View is
  // empty). `l1` must outlive this.
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
    // Scope decisions kept with an entry that Find returned.
    static std::optional<bool> Decision(const Entry& entry, std::string_view scope);
    static void RememberDecision(Entry& entry, std::string_view scope, bool allowed);

   private:
    friend class HotFacts;
    View(HotFacts& owner, SlotStorage* slot) : owner_(owner), slot_(slot) {}
    HotFacts& owner_;
    SlotStorage* slot_;
  };

  View Acquire();

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
  };

 private:
  L1Cache& l1_;
  const std::size_t entries_;  // power of two, or 0
  struct alignas(kCacheLineBytes) SlotStorage {
    std::atomic<bool> busy{false};
    std::unique_ptr<Entry[]> entries;     // allocated on first use
    std::unique_ptr<KeyId[]> candidates;  // per position: the id of the last L1 hit there
  };
  std::unique_ptr<SlotStorage[]> slots_;  // kMetricSlots
};

}  // namespace keycache
