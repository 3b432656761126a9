#include "cache/single_flight.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace keycache {
namespace {

TEST(SingleFlightTest, ConcurrentJoinsMakeOneLeaderAndEveryoneGetsTheResult) {
  SingleFlight<std::uint64_t, int> flights;
  constexpr int kThreads = 8;
  std::atomic<int> joined{0};
  std::atomic<int> leaders{0};
  std::atomic<int> results{0};
  std::atomic<int> wrong_values{0};
  std::atomic<bool> all_joined_in_time{true};

  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      const bool leader = flights.Join(7, [&](const int& v) {
        if (v != 42) wrong_values.fetch_add(1);
        results.fetch_add(1);
      });
      joined.fetch_add(1);
      if (!leader) return;
      leaders.fetch_add(1);
      // The load "takes a while": wait until every thread has joined (bounded), then complete.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (joined.load() < kThreads) {
        if (std::chrono::steady_clock::now() > deadline) {
          all_joined_in_time.store(false);
          break;
        }
        std::this_thread::yield();
      }
      flights.Complete(7, 42);
    });
  }
  for (std::thread& t : threads) t.join();

  ASSERT_TRUE(all_joined_in_time.load());
  EXPECT_EQ(leaders.load(), 1);
  EXPECT_EQ(results.load(), kThreads);
  EXPECT_EQ(wrong_values.load(), 0);
  EXPECT_EQ(flights.InFlight(), 0u);
}

TEST(SingleFlightTest, KeysFlyIndependently) {
  SingleFlight<std::uint64_t, int> flights;
  int a = 0;
  int b = 0;
  EXPECT_TRUE(flights.Join(1, [&](const int& v) { a = v; }));
  EXPECT_TRUE(flights.Join(2, [&](const int& v) { b = v; }));
  EXPECT_FALSE(flights.Join(1, [&](const int& v) { a += v; }));
  EXPECT_EQ(flights.InFlight(), 2u);
  flights.Complete(1, 5);
  EXPECT_EQ(a, 10);
  EXPECT_EQ(b, 0);
  flights.Complete(2, 3);
  EXPECT_EQ(b, 3);
  flights.Complete(2, 4);  // no flight: no-op
  EXPECT_EQ(b, 3);
}

// Waiters run outside the lock, so one may start the next flight of the same key.
TEST(SingleFlightTest, AWaiterMayJoinAgainFromItsCallback) {
  SingleFlight<std::uint64_t, int> flights;
  bool rejoined_as_leader = false;
  flights.Join(1, [&](const int&) { rejoined_as_leader = flights.Join(1, [](const int&) {}); });
  flights.Complete(1, 0);
  EXPECT_TRUE(rejoined_as_leader);
  EXPECT_EQ(flights.InFlight(), 1u);
}

// An overtaken read answers the waiters sealed before it began; the flight goes on, same leader,
// for those who joined while it ran, and ends when a serve leaves nobody.
TEST(SingleFlightTest, ServeSealedAnswersOnlyTheWaitersPresentWhenTheReadBegan) {
  SingleFlight<std::uint64_t, int> flights;
  std::vector<int> got(4, 0);
  EXPECT_TRUE(flights.Join(1, [&](const int& v) { got[0] = v; }));
  EXPECT_FALSE(flights.Join(1, [&](const int& v) { got[1] = v; }));
  flights.Seal(1);  // the first read begins
  EXPECT_FALSE(flights.Join(1, [&](const int& v) { got[2] = v; }));
  EXPECT_TRUE(flights.ServeSealed(1, 10));  // one joined during it: another read
  EXPECT_EQ(got, (std::vector<int>{10, 10, 0, 0}));
  EXPECT_EQ(flights.InFlight(), 1u);
  flights.Seal(1);                                                   // the second read begins
  EXPECT_FALSE(flights.Join(1, [&](const int& v) { got[3] = v; }));  // still the same flight
  flights.Seal(1);  // (a read declined and begun again seals afresh)
  EXPECT_FALSE(flights.ServeSealed(1, 20));
  EXPECT_EQ(got, (std::vector<int>{10, 10, 20, 20}));
  EXPECT_EQ(flights.InFlight(), 0u);
  EXPECT_FALSE(flights.ServeSealed(1, 30));  // no flight: no-op
  // Serving before any seal answers nobody, and the flight goes on.
  EXPECT_TRUE(flights.Join(2, [&](const int& v) { got[0] = v; }));
  EXPECT_TRUE(flights.ServeSealed(2, 40));
  EXPECT_EQ(got[0], 10);
  flights.Complete(2, 50);
  EXPECT_EQ(got[0], 50);
}

}  // namespace
}  // namespace keycache
