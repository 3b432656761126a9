#include "metrics/counter.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "metrics/gauge.h"
#include "util/thread_slot.h"

namespace keycache {
namespace {

TEST(Counter, StartsAtZeroAndAddsIncrements) {
  Counter c;
  EXPECT_EQ(c.Value(), 0u);
  c.Inc();
  c.Inc(41);
  EXPECT_EQ(c.Value(), 42u);
}

TEST(Counter, ConcurrentIncrementsAreAllCounted) {
  constexpr int kThreads = 8;
  constexpr int kIncrements = 100'000;
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < kIncrements; ++i) c.Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), std::uint64_t{kThreads} * kIncrements);
}

TEST(ThreadSlot, IsStablePerThreadAndSpreadsThreadsOverSlots) {
  const std::size_t mine = ThisThreadSlot();
  EXPECT_EQ(ThisThreadSlot(), mine);
  EXPECT_LT(mine, kMetricSlots);

  // Threads that start one after another get consecutive slots, so kMetricSlots of them
  // cover every slot exactly once.
  std::set<std::size_t> seen;
  for (std::size_t i = 0; i < kMetricSlots; ++i) {
    std::thread([&seen] { seen.insert(ThisThreadSlot()); }).join();
  }
  EXPECT_EQ(seen.size(), kMetricSlots);
}

TEST(Gauge, SetsAddsAndHoldsLargeIntegersExactly) {
  Gauge g;
  EXPECT_EQ(g.Value(), 0.0);
  g.Set(10);
  g.Add(2.5);
  g.Dec();
  EXPECT_EQ(g.Value(), 11.5);
  g.Set(9007199254740992.0);  // 2^53
  EXPECT_EQ(static_cast<std::int64_t>(g.Value()), std::int64_t{1} << 53);
}

TEST(Gauge, ConcurrentAddsAreAllApplied) {
  constexpr int kThreads = 4;
  constexpr int kAdds = 50'000;
  Gauge g;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&g] {
      for (int i = 0; i < kAdds; ++i) g.Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(g.Value(), double{kThreads} * kAdds);
}

}  // namespace
}  // namespace keycache
