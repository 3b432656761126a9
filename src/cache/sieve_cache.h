// SieveCache: a sharded in-memory cache bounded by bytes, with SIEVE eviction, per-entry expiry
// and fill fencing. Thread-safe: every public member may be called concurrently; each call holds
// at most one shard mutex, and a hit writes nothing outside its shard.
//
// K and V must be copyable; V should be cheap to copy (Get returns a copy), e.g. a shared_ptr to
// an immutable value or a small POD. Lookups may use another type Q when Hash declares
// is_transparent: Hash(q) must equal Hash(k) and KeyEq(k, q) must hold for equal keys.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "cache/fill_ticket.h"
#include "cache/hash_mix.h"
#include "util/check.h"
#include "util/clock.h"

namespace keycache {
namespace detail {

// A lookup type other than K itself, allowed when Hash opts in with is_transparent.
template <class Q, class K, class Hash>
concept HeterogeneousKey = !std::is_same_v<Q, K> && requires {
  typename Hash::is_transparent;
};

}  // namespace detail

template <class K, class V, class Hash = std::hash<K>, class KeyEq = std::equal_to<>>
class SieveCache {
  struct Node {
    K key;
    V value;
    TimeMs expires_at;
    std::uint32_t newer;   // towards head (the most recently inserted node)
    std::uint32_t older;   // towards tail
    std::uint32_t charge;  // the caller's charge; the cache adds kEntryOverhead
    bool visited;          // SIEVE: set by a hit, cleared by the passing hand
  };

 public:
  // What the cache adds to each caller's charge: its node plus its index slots (the index stays
  // between 3/8 and 3/4 full, so about two 4-byte slots per entry).
  static constexpr std::size_t kEntryOverhead = sizeof(Node) + 2 * sizeof(std::uint32_t);
  static constexpr std::size_t kDefaultShards = 16;
  static constexpr std::size_t kDefaultGenerationStripes = 4096;

  // `shards` and `generation_stripes` are rounded up to powers of two. Each shard holds at most
  // capacity_bytes / shards bytes. `clock` must outlive the cache.
  SieveCache(std::size_t capacity_bytes, const Clock& clock, std::size_t shards = kDefaultShards,
             std::size_t generation_stripes = kDefaultGenerationStripes)
      : clock_(clock),
        shard_count_(std::bit_ceil(std::max<std::size_t>(shards, 1))),
        shard_capacity_(capacity_bytes / shard_count_),
        stripes_per_shard_(std::max<std::size_t>(
            std::bit_ceil(std::max<std::size_t>(generation_stripes, 1)) / shard_count_, 1)),
        shards_(std::make_unique<Shard[]>(shard_count_)) {
    for (std::size_t i = 0; i < shard_count_; ++i) {
      shards_[i].gens = std::make_unique<std::uint64_t[]>(stripes_per_shard_);
    }
  }
  ~SieveCache() {
    for (std::size_t i = 0; i < shard_count_; ++i) DestroyAll(shards_[i]);
  }
  SieveCache(const SieveCache&) = delete;
  SieveCache& operator=(const SieveCache&) = delete;

  // A live entry's value (and marks it visited). An expired entry is erased and is a miss.
  std::optional<V> Get(const K& key) { return ValueOf(GetImpl(key)); }
  template <detail::HeterogeneousKey<K, Hash> Q>
  std::optional<V> Get(const Q& key) {
    return ValueOf(GetImpl(key));
  }

  // Get, with the entry's deadline (its expires_at).
  std::optional<std::pair<V, TimeMs>> GetWithDeadline(const K& key) { return GetImpl(key); }

  // Unfenced insert or replace, for tests and internal use; fills from a source of truth should
  // use BeginFill/CompleteFill. Returns false (and drops any old entry) when the entry alone
  // exceeds a shard's capacity or is already expired.
  bool Insert(const K& key, V value, std::size_t charge, TimeMs expires_at) {
    const std::uint64_t h = HashOf(key);
    Shard& s = ShardFor(h);
    const TimeMs now = clock_.NowMs();
    std::lock_guard lock(s.mu);
    return InsertLocked(s, h, key, std::move(value), charge, expires_at, now);
  }

  // Take the ticket BEFORE reading the value from the source of truth.
  FillTicket BeginFill(const K& key) { return BeginFillImpl(key); }
  template <detail::HeterogeneousKey<K, Hash> Q>
  FillTicket BeginFill(const Q& key) {
    return BeginFillImpl(key);
  }

  // Inserts only if neither Invalidate(key) (nor a false conflict on its generation stripe) nor
  // Clear() happened since `ticket` was taken. The check and the insert hold the shard lock that
  // Invalidate takes, so a fill that began before an invalidation can never land after it.
  bool CompleteFill(const K& key, V value, std::size_t charge, TimeMs expires_at,
                    FillTicket ticket) {
    const std::uint64_t h = HashOf(key);
    Shard& s = ShardFor(h);
    const TimeMs now = clock_.NowMs();
    std::lock_guard lock(s.mu);
    if (s.gens[Stripe(h)] != ticket.generation ||
        epoch_.load(std::memory_order_acquire) != ticket.epoch) {
      return false;
    }
    return InsertLocked(s, h, key, std::move(value), charge, expires_at, now);
  }

  // Bumps the key's generation (refusing fills in flight) and erases it. True if it was present.
  bool Invalidate(const K& key) { return RemoveImpl(key, /*bump=*/true); }
  template <detail::HeterogeneousKey<K, Hash> Q>
  bool Invalidate(const Q& key) {
    return RemoveImpl(key, /*bump=*/true);
  }

  // Erases without touching the generation: for dropping an entry known to be useless.
  bool Erase(const K& key) { return RemoveImpl(key, /*bump=*/false); }
  template <detail::HeterogeneousKey<K, Hash> Q>
  bool Erase(const Q& key) {
    return RemoveImpl(key, /*bump=*/false);
  }

  // Erases everything and refuses every fill begun before the call.
  void Clear() {
    // The epoch moves before any shard is emptied: a fill that still saw the old epoch holds (or
    // held) its shard lock before this loop reaches that shard, so its entry is erased below.
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    for (std::size_t i = 0; i < shard_count_; ++i) {
      std::lock_guard lock(shards_[i].mu);
      DestroyAll(shards_[i]);
    }
  }

  std::size_t Size() const {
    return Sum([](const Shard& s) { return s.size; });
  }
  // Sum of (charge + kEntryOverhead) over live entries; never above CapacityBytes().
  std::size_t Bytes() const {
    return Sum([](const Shard& s) { return s.bytes; });
  }
  std::size_t CapacityBytes() const { return shard_capacity_ * shard_count_; }
  // Entries removed to make room, including expired ones the hand reclaimed on the way.
  std::uint64_t Evictions() const {
    return Sum([](const Shard& s) { return s.evictions; });
  }

 private:
  static constexpr std::uint32_t kNil = UINT32_MAX;
  static constexpr std::uint32_t kEmptySlot = 0;  // index slots hold node + 1
  static constexpr std::uint32_t kChunkShift = 6;
  static constexpr std::uint32_t kChunkNodes = 1u << kChunkShift;

  struct alignas(Node) NodeStorage {
    std::byte raw[sizeof(Node)];
  };

  // Memory layout: nodes live in per-shard chunks of kChunkNodes (so a node never moves) and are
  // named by 32-bit numbers, which keeps list links and index slots at 4 bytes each; the index is
  // open addressing over those numbers, so an entry costs one node and ~2 slots, no map node.
  //
  // Invariants, all guarded by mu:
  // - live nodes form one list from head (newest) to tail (oldest); hand is kNil or a live node.
  // - index holds exactly one slot per live node (linear probing, no tombstones, load <= 3/4).
  // - free nodes form a singly linked list through their raw bytes, starting at free_head.
  // - bytes == sum over live nodes of (charge + kEntryOverhead) <= shard_capacity_.
  // - gens[i] only grows.
  struct alignas(64) Shard {
    std::mutex mu;
    std::vector<std::unique_ptr<NodeStorage[]>> chunks;
    std::uint32_t carved = 0;  // nodes ever taken from chunks
    std::uint32_t free_head = kNil;
    std::vector<std::uint32_t> index;
    std::uint32_t head = kNil;
    std::uint32_t tail = kNil;
    std::uint32_t hand = kNil;
    std::size_t size = 0;
    std::size_t bytes = 0;
    std::uint64_t evictions = 0;
    std::unique_ptr<std::uint64_t[]> gens;
  };

  template <class Q>
  std::uint64_t HashOf(const Q& key) const {
    return MixHash(static_cast<std::uint64_t>(hash_(key)));
  }
  // Shard, stripe and slot take different bits of the mixed hash.
  Shard& ShardFor(std::uint64_t h) const { return shards_[(h >> 48) & (shard_count_ - 1)]; }
  std::size_t Stripe(std::uint64_t h) const { return (h >> 24) & (stripes_per_shard_ - 1); }

  static std::byte* Raw(Shard& s, std::uint32_t i) {
    return s.chunks[i >> kChunkShift][i & (kChunkNodes - 1)].raw;
  }
  static Node* At(Shard& s, std::uint32_t i) {
    return std::launder(reinterpret_cast<Node*>(Raw(s, i)));
  }

  static std::optional<V> ValueOf(std::optional<std::pair<V, TimeMs>> entry) {
    if (!entry) return std::nullopt;
    return std::move(entry->first);
  }

  // A live entry's value and deadline (and marks it visited); an expired entry is erased.
  template <class Q>
  std::optional<std::pair<V, TimeMs>> GetImpl(const Q& key) {
    const std::uint64_t h = HashOf(key);
    Shard& s = ShardFor(h);
    const TimeMs now = clock_.NowMs();
    std::lock_guard lock(s.mu);
    const std::uint32_t i = Find(s, key, h);
    if (i == kNil) return std::nullopt;
    Node* n = At(s, i);
    if (n->expires_at <= now) {
      EraseNode(s, i);
      return std::nullopt;
    }
    n->visited = true;
    return std::pair<V, TimeMs>(n->value, n->expires_at);
  }

  template <class Q>
  FillTicket BeginFillImpl(const Q& key) {
    const std::uint64_t h = HashOf(key);
    Shard& s = ShardFor(h);
    std::lock_guard lock(s.mu);
    return FillTicket{s.gens[Stripe(h)], epoch_.load(std::memory_order_acquire)};
  }

  template <class Q>
  bool RemoveImpl(const Q& key, bool bump) {
    const std::uint64_t h = HashOf(key);
    Shard& s = ShardFor(h);
    std::lock_guard lock(s.mu);
    if (bump) ++s.gens[Stripe(h)];
    const std::uint32_t i = Find(s, key, h);
    if (i == kNil) return false;
    EraseNode(s, i);
    return true;
  }

  bool InsertLocked(Shard& s, std::uint64_t h, const K& key, V&& value, std::size_t charge,
                    TimeMs expires_at, TimeMs now) {
    if (const std::uint32_t old = Find(s, key, h); old != kNil) EraseNode(s, old);
    const std::size_t cost = charge + kEntryOverhead;
    if (charge > UINT32_MAX || cost > shard_capacity_ || expires_at <= now) return false;
    while (s.bytes + cost > shard_capacity_) EvictOne(s, now);
    KC_DCHECK(s.bytes + cost <= shard_capacity_);
    const std::uint32_t i = AllocNode(s);
    ::new (static_cast<void*>(Raw(s, i))) Node{
        key, std::move(value), expires_at, kNil, kNil, static_cast<std::uint32_t>(charge), false};
    IndexInsert(s, i, h);
    LinkAtHead(s, i);
    s.bytes += cost;
    ++s.size;
    return true;
  }

  // SIEVE: from the hand (or the tail) towards the head, wrapping to the tail, clear visited
  // bits and evict the first node that is unvisited or expired. Precondition: s.size > 0.
  void EvictOne(Shard& s, TimeMs now) {
    KC_CHECK(s.size > 0 && s.tail != kNil);  // else the loop below would never end
    std::uint32_t i = s.hand != kNil ? s.hand : s.tail;
    for (;;) {
      Node* n = At(s, i);
      if (!n->visited || n->expires_at <= now) break;
      n->visited = false;
      i = n->newer != kNil ? n->newer : s.tail;
    }
    s.hand = At(s, i)->newer;
    EraseNode(s, i);
    ++s.evictions;
  }

  template <class Q>
  std::uint32_t Find(Shard& s, const Q& key, std::uint64_t h) const {
    if (s.index.empty()) return kNil;
    const std::size_t mask = s.index.size() - 1;
    for (std::size_t p = h & mask;; p = (p + 1) & mask) {
      const std::uint32_t v = s.index[p];
      if (v == kEmptySlot) return kNil;
      if (eq_(At(s, v - 1)->key, key)) return v - 1;
    }
  }

  void EraseNode(Shard& s, std::uint32_t i) {
    Node* n = At(s, i);
    if (s.hand == i) s.hand = n->newer;
    IndexErase(s, i);
    if (n->newer != kNil) {
      At(s, n->newer)->older = n->older;
    } else {
      s.head = n->older;
    }
    if (n->older != kNil) {
      At(s, n->older)->newer = n->newer;
    } else {
      s.tail = n->newer;
    }
    KC_DCHECK(s.size > 0 && s.bytes >= n->charge + kEntryOverhead);
    s.bytes -= n->charge + kEntryOverhead;
    --s.size;
    std::destroy_at(n);
    std::memcpy(Raw(s, i), &s.free_head, sizeof s.free_head);
    s.free_head = i;
  }

  void LinkAtHead(Shard& s, std::uint32_t i) {
    Node* n = At(s, i);
    n->older = s.head;
    if (s.head != kNil) {
      At(s, s.head)->newer = i;
    } else {
      s.tail = i;
    }
    s.head = i;
  }

  std::uint32_t AllocNode(Shard& s) {
    if (s.free_head != kNil) {
      const std::uint32_t i = s.free_head;
      std::memcpy(&s.free_head, Raw(s, i), sizeof s.free_head);
      return i;
    }
    if (s.carved == s.chunks.size() * kChunkNodes) {
      s.chunks.push_back(std::make_unique_for_overwrite<NodeStorage[]>(kChunkNodes));
    }
    return s.carved++;
  }

  void IndexInsert(Shard& s, std::uint32_t i, std::uint64_t h) {
    if ((s.size + 1) * 4 > s.index.size() * 3) {
      Rehash(s, std::max<std::size_t>(8, s.index.size() * 2));
    }
    // Load <= 3/4 guarantees an empty slot, so the probe below ends.
    KC_DCHECK((s.size + 1) * 4 <= s.index.size() * 3);
    const std::size_t mask = s.index.size() - 1;
    std::size_t p = h & mask;
    while (s.index[p] != kEmptySlot) p = (p + 1) & mask;
    s.index[p] = i + 1;
  }

  void Rehash(Shard& s, std::size_t slots) {
    std::vector<std::uint32_t> old = std::exchange(s.index, std::vector<std::uint32_t>(slots));
    const std::size_t mask = slots - 1;
    for (const std::uint32_t v : old) {
      if (v == kEmptySlot) continue;
      std::size_t p = HashOf(At(s, v - 1)->key) & mask;
      while (s.index[p] != kEmptySlot) p = (p + 1) & mask;
      s.index[p] = v;
    }
  }

  // Removes node i's slot and shifts later members of its probe run back (Knuth's Algorithm R),
  // so lookups never need tombstones.
  void IndexErase(Shard& s, std::uint32_t i) {
    const std::size_t mask = s.index.size() - 1;
    std::size_t hole = HashOf(At(s, i)->key) & mask;
    // The node is indexed (invariant), so its slot is found within one pass.
    for (std::size_t probes = 0; s.index[hole] != i + 1; hole = (hole + 1) & mask) {
      KC_CHECK(++probes <= mask);
    }
    for (std::size_t p = (hole + 1) & mask; s.index[p] != kEmptySlot; p = (p + 1) & mask) {
      const std::size_t home = HashOf(At(s, s.index[p] - 1)->key) & mask;
      // The entry at p may fill the hole unless its home lies cyclically in (hole, p].
      if (((p - home) & mask) >= ((p - hole) & mask)) {
        s.index[hole] = s.index[p];
        hole = p;
      }
    }
    s.index[hole] = kEmptySlot;
  }

  static void DestroyAll(Shard& s) {
    for (std::uint32_t i = s.head; i != kNil;) {
      Node* n = At(s, i);
      i = n->older;
      std::destroy_at(n);
    }
    s.chunks.clear();
    s.index = {};
    s.carved = 0;
    s.free_head = s.head = s.tail = s.hand = kNil;
    s.size = s.bytes = 0;
  }

  template <class F>
  auto Sum(F field) const {
    decltype(field(shards_[0])) total = 0;
    for (std::size_t i = 0; i < shard_count_; ++i) {
      std::lock_guard lock(shards_[i].mu);
      total += field(shards_[i]);
    }
    return total;
  }

  // Immutable after construction.
  const Clock& clock_;
  const std::size_t shard_count_;
  const std::size_t shard_capacity_;
  const std::size_t stripes_per_shard_;
  [[no_unique_address]] Hash hash_;
  [[no_unique_address]] KeyEq eq_;
  const std::unique_ptr<Shard[]> shards_;

  std::atomic<std::uint64_t> epoch_{0};  // bumped by Clear()
};

}  // namespace keycache
