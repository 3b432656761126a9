#include "cache/sieve_cache.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>

#include "cache/cache_keys.h"

namespace keycache {
namespace {

using IntCache = SieveCache<std::uint64_t, std::uint64_t>;
constexpr std::size_t kOverhead = IntCache::kEntryOverhead;

TEST(SieveCacheTest, GetReturnsWhatWasInserted) {
  ManualClock clock;
  IntCache cache(1 << 20, clock);
  EXPECT_FALSE(cache.Get(1).has_value());
  EXPECT_TRUE(cache.Insert(1, 100, 10, kNever));
  ASSERT_TRUE(cache.Get(1).has_value());
  EXPECT_EQ(*cache.Get(1), 100u);
  EXPECT_EQ(cache.Size(), 1u);
  EXPECT_EQ(cache.Bytes(), 10 + kOverhead);
}

TEST(SieveCacheTest, ReplacingAKeyReplacesItsValueAndCharge) {
  ManualClock clock;
  IntCache cache(1 << 20, clock);
  cache.Insert(1, 100, 10, kNever);
  cache.Insert(1, 200, 30, kNever);
  EXPECT_EQ(*cache.Get(1), 200u);
  EXPECT_EQ(cache.Size(), 1u);
  EXPECT_EQ(cache.Bytes(), 30 + kOverhead);
}

// A scan of one-hit keys, ten times the capacity long, would flush an LRU cache completely.
// SIEVE inserts at the head while its hand evicts just ahead of it, so the visited hot set at the
// tail is passed over once and then left alone.
TEST(SieveCacheTest, KeepsAHotSetThroughAScanThatWouldFlushLru) {
  ManualClock clock;
  constexpr std::size_t kCapacityEntries = 100;
  IntCache cache(kCapacityEntries * kOverhead, clock, /*shards=*/1);
  constexpr std::uint64_t kHot = 20;
  for (std::uint64_t k = 0; k < kHot; ++k) cache.Insert(k, k, 0, kNever);
  for (std::uint64_t k = 0; k < kHot; ++k) ASSERT_TRUE(cache.Get(k).has_value());

  constexpr std::uint64_t kScanStart = 1'000'000;
  for (std::uint64_t k = kScanStart; k < kScanStart + 10 * kCapacityEntries; ++k) {
    cache.Insert(k, k, 0, kNever);
  }

  EXPECT_EQ(cache.Size(), kCapacityEntries);
  for (std::uint64_t k = 0; k < kHot; ++k) EXPECT_TRUE(cache.Get(k).has_value()) << k;
  EXPECT_FALSE(cache.Get(kScanStart).has_value());
  EXPECT_EQ(cache.Evictions(), 10 * kCapacityEntries - (kCapacityEntries - kHot));
}

TEST(SieveCacheTest, EvictsUnvisitedBeforeVisited) {
  ManualClock clock;
  IntCache cache(4 * kOverhead, clock, /*shards=*/1);
  for (std::uint64_t k = 1; k <= 4; ++k) cache.Insert(k, k, 0, kNever);
  cache.Get(1);
  cache.Get(2);
  cache.Get(4);
  cache.Insert(5, 5, 0, kNever);  // 3 is the only unvisited entry
  EXPECT_FALSE(cache.Get(3).has_value());
  for (std::uint64_t k : {1, 2, 4, 5}) EXPECT_TRUE(cache.Get(k).has_value()) << k;
}

TEST(SieveCacheTest, ByteBoundHoldsUnderRandomInsertsOfVariedCharges) {
  ManualClock clock;
  constexpr std::size_t kCapacity = 64 << 10;
  IntCache cache(kCapacity, clock, /*shards=*/4);
  std::mt19937_64 rng(7);
  std::map<std::uint64_t, std::size_t> charge_of;  // last charge inserted per key
  for (int i = 0; i < 20'000; ++i) {
    const std::uint64_t key = rng() % 3'000;
    const std::size_t charge = rng() % 2'000;
    ASSERT_TRUE(cache.Insert(key, key, charge, kNever));
    charge_of[key] = charge;
    ASSERT_LE(cache.Bytes(), cache.CapacityBytes());
  }
  EXPECT_GT(cache.Evictions(), 0u);

  std::size_t present = 0;
  std::size_t present_bytes = 0;
  for (const auto& [key, charge] : charge_of) {
    if (cache.Get(key)) {
      ++present;
      present_bytes += charge + kOverhead;
    }
  }
  EXPECT_EQ(cache.Size(), present);
  EXPECT_EQ(cache.Bytes(), present_bytes);
  // Far above zero: eviction makes room, it does not empty the cache.
  EXPECT_GT(cache.Bytes(), kCapacity / 2);
}

TEST(SieveCacheTest, EntryLargerThanAShardIsRejectedAndDropsTheOldValue) {
  ManualClock clock;
  IntCache cache(2'000, clock, /*shards=*/2);  // 1000 bytes per shard
  ASSERT_TRUE(cache.Insert(1, 1, 10, kNever));
  EXPECT_FALSE(cache.Insert(1, 2, 1000, kNever));
  EXPECT_FALSE(cache.Get(1).has_value());
  EXPECT_EQ(cache.Bytes(), 0u);
}

TEST(SieveCacheTest, ExpiredEntryIsAMissAndIsErased) {
  ManualClock clock;
  IntCache cache(1 << 20, clock);
  const TimeMs start = clock.NowMs();
  cache.Insert(1, 100, 0, start + 1000);
  clock.Advance(999);
  EXPECT_TRUE(cache.Get(1).has_value());
  clock.Advance(1);
  EXPECT_FALSE(cache.Get(1).has_value());
  EXPECT_EQ(cache.Size(), 0u);
  EXPECT_EQ(cache.Bytes(), 0u);
  EXPECT_FALSE(cache.Insert(2, 2, 0, clock.NowMs()));  // born expired
}

TEST(SieveCacheTest, ExpiredEntriesAreEvictedEvenIfVisited) {
  ManualClock clock;
  IntCache cache(2 * kOverhead, clock, /*shards=*/1);
  cache.Insert(1, 1, 0, clock.NowMs() + 10);
  cache.Insert(2, 2, 0, kNever);
  cache.Get(1);
  cache.Get(2);
  clock.Advance(10);
  cache.Insert(3, 3, 0, kNever);
  EXPECT_TRUE(cache.Get(2).has_value());
  EXPECT_TRUE(cache.Get(3).has_value());
  EXPECT_EQ(cache.Size(), 2u);
}

TEST(SieveCacheTest, InvalidateEraseAndClear) {
  ManualClock clock;
  IntCache cache(1 << 20, clock);
  for (std::uint64_t k = 0; k < 100; ++k) cache.Insert(k, k, 8, kNever);
  EXPECT_TRUE(cache.Invalidate(5));
  EXPECT_FALSE(cache.Invalidate(5));
  EXPECT_TRUE(cache.Erase(6));
  EXPECT_FALSE(cache.Get(5).has_value());
  EXPECT_FALSE(cache.Get(6).has_value());
  EXPECT_EQ(cache.Size(), 98u);
  cache.Clear();
  EXPECT_EQ(cache.Size(), 0u);
  EXPECT_EQ(cache.Bytes(), 0u);
  EXPECT_FALSE(cache.Get(7).has_value());
  EXPECT_TRUE(cache.Insert(7, 7, 8, kNever));  // usable after Clear
  EXPECT_EQ(*cache.Get(7), 7u);
}

// Random inserts and removals without eviction, checked against std::map: exercises the open
// addressing index (growth and backward-shift deletion) and the node free list.
TEST(SieveCacheTest, MatchesAMapUnderRandomInsertsAndRemovals) {
  ManualClock clock;
  IntCache cache(std::size_t{1} << 30, clock, /*shards=*/2);
  std::map<std::uint64_t, std::uint64_t> model;
  std::mt19937_64 rng(11);
  for (int i = 0; i < 50'000; ++i) {
    const std::uint64_t key = rng() % 700;
    switch (rng() % 3) {
      case 0:
        cache.Insert(key, i, 1, kNever);
        model[key] = i;
        break;
      case 1:
        ASSERT_EQ(cache.Invalidate(key), model.erase(key) == 1);
        break;
      default: {
        auto got = cache.Get(key);
        auto it = model.find(key);
        ASSERT_EQ(got.has_value(), it != model.end());
        if (got) {
          ASSERT_EQ(*got, it->second);
        }
      }
    }
  }
  EXPECT_EQ(cache.Size(), model.size());
  EXPECT_EQ(cache.Evictions(), 0u);
}

TEST(SieveCacheTest, StringKeysAreFoundByStringView) {
  ManualClock clock;
  SieveCache<std::string, int, StringHash> cache(1 << 20, clock);
  const std::string owner = "an-owner-id-longer-than-inline";
  cache.Insert(owner, 3, owner.capacity() + 1, kNever);
  const std::string_view view = owner;
  ASSERT_TRUE(cache.Get(view).has_value());
  EXPECT_EQ(*cache.Get(view), 3);
  EXPECT_FALSE(cache.Get(std::string_view("other")).has_value());
  EXPECT_TRUE(cache.Invalidate(view));
  EXPECT_EQ(cache.Size(), 0u);
}

TEST(SieveFillFenceTest, FillWithNoInvalidationIsAccepted) {
  ManualClock clock;
  IntCache cache(1 << 20, clock);
  const FillTicket ticket = cache.BeginFill(1);
  EXPECT_TRUE(cache.CompleteFill(1, 10, 0, kNever, ticket));
  EXPECT_EQ(*cache.Get(1), 10u);
}

TEST(SieveFillFenceTest, InvalidateBetweenBeginAndCompleteRejectsTheFill) {
  ManualClock clock;
  IntCache cache(1 << 20, clock);
  const FillTicket ticket = cache.BeginFill(1);
  cache.Invalidate(1);  // key absent: the generation still moves
  EXPECT_FALSE(cache.CompleteFill(1, 10, 0, kNever, ticket));
  EXPECT_FALSE(cache.Get(1).has_value());
  // A fill that begins after the invalidation is fine.
  EXPECT_TRUE(cache.CompleteFill(1, 11, 0, kNever, cache.BeginFill(1)));
  EXPECT_EQ(*cache.Get(1), 11u);
}

TEST(SieveFillFenceTest, ClearBetweenBeginAndCompleteRejectsTheFill) {
  ManualClock clock;
  IntCache cache(1 << 20, clock);
  const FillTicket ticket = cache.BeginFill(1);
  cache.Clear();
  EXPECT_FALSE(cache.CompleteFill(1, 10, 0, kNever, ticket));
  EXPECT_FALSE(cache.Get(1).has_value());
}

TEST(SieveFillFenceTest, EraseDoesNotFenceFills) {
  ManualClock clock;
  IntCache cache(1 << 20, clock);
  const FillTicket ticket = cache.BeginFill(1);
  cache.Erase(1);
  EXPECT_TRUE(cache.CompleteFill(1, 10, 0, kNever, ticket));
}

// Generations are striped, so invalidating one key may refuse another key's fill; with enough
// stripes that stays rare.
TEST(SieveFillFenceTest, InvalidatingOtherKeysRarelyRejectsAFill) {
  ManualClock clock;
  IntCache cache(1 << 20, clock, /*shards=*/16, /*generation_stripes=*/4096);
  int accepted = 0;
  for (std::uint64_t other = 2; other < 102; ++other) {
    const FillTicket ticket = cache.BeginFill(1);
    cache.Invalidate(other);
    if (cache.CompleteFill(1, other, 0, kNever, ticket)) ++accepted;
  }
  EXPECT_GE(accepted, 95);
}

}  // namespace
}  // namespace keycache
