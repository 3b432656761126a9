// Fill fencing under real concurrency: a writer commits new versions to a fake store and
// invalidates, fillers read the store through tickets, a reader checks that no value older than
// the last completed invalidation is ever readable.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "cache/sieve_cache.h"

namespace keycache {
namespace {

using VersionCache = SieveCache<std::uint64_t, std::uint64_t>;

constexpr std::uint64_t kKeys = 4;
constexpr std::uint64_t kWrites = 2'000;
constexpr int kFillers = 2;

struct Store {
  std::array<std::atomic<std::uint64_t>, kKeys> version{};
  // Highest version whose invalidation has returned.
  std::array<std::atomic<std::uint64_t>, kKeys> invalidated_through{};
};

enum class Fence { kInvalidate, kClear };

// Polls `done` with a bound; the bound only turns a hang into a failure.
template <class F>
bool PollUntil(F done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

void RunRace(Fence fence) {
  ManualClock clock;
  VersionCache cache(1 << 20, clock, /*shards=*/4);
  Store store;
  std::atomic<bool> writer_done{false};
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> fills_after_writer{0};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> stale_reads{0};
  std::atomic<std::uint64_t> fill_attempts{0};
  std::atomic<bool> writer_starved{false};

  std::thread writer([&] {
    for (std::uint64_t v = 1; v <= kWrites; ++v) {
      const std::uint64_t k = v % kKeys;
      store.version[k].store(v);  // the store commits...
      if (fence == Fence::kInvalidate) {
        cache.Invalidate(k);  // ...then the cache is told
      } else {
        cache.Clear();
      }
      store.invalidated_through[k].store(v);
      // Let some fills run between writes, so that reads and invalidations interleave.
      const std::uint64_t seen = fill_attempts.load();
      if (!PollUntil([&] { return fill_attempts.load() >= seen + kFillers; })) {
        writer_starved.store(true);
        break;
      }
    }
    writer_done.store(true);
  });

  std::vector<std::thread> fillers;
  fillers.reserve(kFillers);
  for (int f = 0; f < kFillers; ++f) {
    fillers.emplace_back([&, f] {
      for (std::uint64_t n = 0; !stop.load(); ++n) {
        const std::uint64_t k = (n + f) % kKeys;
        const bool after_writer = writer_done.load();
        const FillTicket ticket = cache.BeginFill(k);
        const std::uint64_t read = store.version[k].load();
        if (n % 2 == 0) std::this_thread::yield();  // widen the window between read and fill
        if (cache.CompleteFill(k, read, 0, kNever, ticket)) accepted.fetch_add(1);
        fill_attempts.fetch_add(1);
        const std::uint64_t floor = store.invalidated_through[k].load();
        const auto got = cache.Get(k);
        if (got && *got < floor) stale_reads.fetch_add(1);
        if (after_writer) fills_after_writer.fetch_add(1);
      }
    });
  }

  std::thread reader([&] {
    while (!stop.load()) {
      for (std::uint64_t k = 0; k < kKeys; ++k) {
        const std::uint64_t floor = store.invalidated_through[k].load();
        const auto got = cache.Get(k);
        if (got && *got < floor) stale_reads.fetch_add(1);
      }
    }
  });

  writer.join();
  const bool filled = PollUntil([&] { return fills_after_writer.load() >= 2'000; });
  stop.store(true);
  for (std::thread& t : fillers) t.join();
  reader.join();

  ASSERT_FALSE(writer_starved.load());
  ASSERT_TRUE(filled);
  EXPECT_EQ(stale_reads.load(), 0u);
  EXPECT_GT(accepted.load(), 0u);
  // After the last invalidation, only the last committed versions can be read.
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    const auto got = cache.Get(k);
    if (got) {
      EXPECT_EQ(*got, store.version[k].load()) << "key " << k;
    }
  }
}

TEST(SieveFillFenceRaceTest, NoStaleValueAfterInvalidate) { RunRace(Fence::kInvalidate); }

TEST(SieveFillFenceRaceTest, NoStaleValueAfterClear) { RunRace(Fence::kClear); }

}  // namespace
}  // namespace keycache
