// UsageCounter: per-key usage (count, newest time and client IP) accumulated in memory between
// flushes to the store, so a verification costs no database write. Thread-safe: sharded by
// recording thread (util/thread_slot.h), one mutex per shard, so a verifying thread locks a mutex
// and writes a map that no other verifying thread touches (no shared cache line per
// verification, even when every thread verifies the same key); Drain merges a key's counts from
// every shard. A key used on several threads has an entry in each of their shards.
//
// Drain takes the counts, not the entries: a key's entry stays (count 0) until a whole interval
// between two Drains passes without a use, so a busy key costs no allocation per flush. Memory
// grows with the number of distinct keys used in the last two intervals (only keys that verified
// are recorded); it is not part of the L1Cache byte budget.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/key_id.h"
#include "core/usage_delta.h"
#include "util/clock.h"

namespace keycache {

class UsageCounter {
 public:
  static constexpr std::size_t kDefaultShards = 16;

  // Rounded up to a power of two; threads beyond it share shards (see util/thread_slot.h).
  explicit UsageCounter(std::size_t shards = kDefaultShards);
  UsageCounter(const UsageCounter&) = delete;
  UsageCounter& operator=(const UsageCounter&) = delete;

  // count += 1; last_used_at/ip become (now, ip) unless a newer use is already recorded.
  void Record(KeyId id, TimeMs now, std::string_view ip);

  // Takes everything accumulated so far, one delta per key, in no particular order.
  std::vector<UsageDelta> Drain();

  // Merges deltas back (after a failed flush): counts add up, the newest time and its IP win
  // (on a tie, what was recorded since the Drain).
  void Restore(std::vector<UsageDelta> deltas);

  std::optional<UsageDelta> Pending(KeyId id) const;
  std::size_t Size() const;  // keys with pending usage

 private:
  // count == 0: no pending usage; the entry is only kept for reuse (time 0, IP ignored).
  struct Usage {
    std::uint64_t count = 0;
    TimeMs last_used_at = 0;
    std::string last_used_ip;
  };
  struct alignas(64) Shard {
    mutable std::mutex mu;
    // Open addressing (one probe of a metadata group, the value inline): the lookup is on every
    // VALID verification, and a node-based map cost a pointer chase per lookup.
    boost::unordered_flat_map<KeyId, Usage> pending;  // guarded by mu
    std::size_t active = 0;                           // entries with count > 0; guarded by mu
  };

  Shard& ThisThreadsShard() const;
  // Adds `d` to shard `s`'s entry for d.id; `s.mu` held.
  static void MergeLocked(Shard& s, UsageDelta d);

  const std::size_t shard_count_;
  const std::unique_ptr<Shard[]> shards_;
};

}  // namespace keycache
