#include "metrics/hit_rate_window.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace keycache {
namespace {

constexpr TimeMs kStart = 1'700'000'000'000;  // a multiple of 10 s

void RecordMany(HitRateWindow& w, int hits, int misses) {
  for (int i = 0; i < hits; ++i) w.Record(AnsweredBy::kL1);
  for (int i = 0; i < misses; ++i) w.Record(AnsweredBy::kDatabase);
}

TEST(HitRateWindow, EmptyWindowReportsFullHitRate) {
  ManualClock clock(kStart);
  HitRateWindow w(clock);
  const auto s = w.Snapshot();
  EXPECT_EQ(s.hits, 0u);
  EXPECT_EQ(s.misses, 0u);
  EXPECT_EQ(s.hit_rate, 1.0);
}

TEST(HitRateWindow, ComputesRateAsAFraction) {
  ManualClock clock(kStart);
  HitRateWindow w(clock);
  RecordMany(w, 3, 1);
  const auto s = w.Snapshot();
  EXPECT_EQ(s.hits, 3u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_DOUBLE_EQ(s.hit_rate, 0.75);
}

TEST(HitRateWindow, RedisHitsAreHitsWithTheirOwnShare) {
  ManualClock clock(kStart);
  HitRateWindow w(clock);
  for (int i = 0; i < 6; ++i) w.Record(AnsweredBy::kL1);
  for (int i = 0; i < 3; ++i) w.Record(AnsweredBy::kRedis);
  w.Record(AnsweredBy::kDatabase);
  const auto s = w.Snapshot();
  EXPECT_EQ(s.l1_hits, 6u);
  EXPECT_EQ(s.redis_hits, 3u);
  EXPECT_EQ(s.hits, 9u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_DOUBLE_EQ(s.hit_rate, 0.9);
  EXPECT_DOUBLE_EQ(s.l1_rate, 0.6);
  EXPECT_DOUBLE_EQ(s.redis_rate, 0.3);
}

TEST(HitRateWindow, EmptyWindowHasNoTierShares) {
  ManualClock clock(kStart);
  HitRateWindow w(clock);
  const auto s = w.Snapshot();
  EXPECT_EQ(s.l1_rate, 0.0);
  EXPECT_EQ(s.redis_rate, 0.0);
}

TEST(HitRateWindow, OldBucketsSlideOutOfTheWindow) {
  ManualClock clock(kStart);
  HitRateWindow w(clock, 6, 10'000);
  RecordMany(w, 0, 10);  // bucket 0: all misses
  clock.Advance(10'000);
  RecordMany(w, 10, 0);  // bucket 1: all hits
  EXPECT_DOUBLE_EQ(w.Snapshot().hit_rate, 0.5);

  clock.Advance(49'999);  // 59.999 s after the first bucket began: still inside
  EXPECT_EQ(w.Snapshot().misses, 10u);
  clock.Advance(1);  // 60 s: the first bucket leaves
  auto s = w.Snapshot();
  EXPECT_EQ(s.misses, 0u);
  EXPECT_EQ(s.hits, 10u);
  EXPECT_EQ(s.hit_rate, 1.0);

  clock.Advance(10'000);  // the second bucket leaves too
  s = w.Snapshot();
  EXPECT_EQ(s.hits + s.misses, 0u);
  EXPECT_EQ(s.hit_rate, 1.0);
}

TEST(HitRateWindow, ReusedBucketStartsFromZero) {
  ManualClock clock(kStart);
  HitRateWindow w(clock, 3, 1'000);
  RecordMany(w, 5, 5);
  clock.Advance(3'000);  // same ring position, three intervals later
  RecordMany(w, 1, 0);
  const auto s = w.Snapshot();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 0u);
}

TEST(HitRateWindow, AReusedBucketForgetsWhatEveryThreadCountedInIt) {
  ManualClock clock(kStart);
  HitRateWindow w(clock, 3, 1'000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&w] { RecordMany(w, 5, 5); });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(w.Snapshot().hits, 20u);
  clock.Advance(3'000);  // same ring position; this thread's slot is not the others'
  RecordMany(w, 1, 0);
  const auto s = w.Snapshot();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 0u);
}

TEST(HitRateWindow, LongIdleGapForgetsEverything) {
  ManualClock clock(kStart);
  HitRateWindow w(clock);
  RecordMany(w, 1, 9);
  clock.Advance(3'600'000);
  RecordMany(w, 2, 0);
  const auto s = w.Snapshot();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 0u);
}

TEST(HitRateWindow, ConcurrentRecordsAreAllCounted) {
  ManualClock clock(kStart);
  HitRateWindow w(clock);
  constexpr int kThreads = 4;
  constexpr int kEach = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&w, t] {
      for (int i = 0; i < kEach; ++i)
        w.Record(t % 2 == 0 ? AnsweredBy::kL1 : AnsweredBy::kDatabase);
    });
  }
  for (auto& t : threads) t.join();
  const auto s = w.Snapshot();
  EXPECT_EQ(s.hits, std::uint64_t{2} * kEach);
  EXPECT_EQ(s.misses, std::uint64_t{2} * kEach);
}

TEST(HitRateWindow, ConcurrentRecordsAcrossABucketTurnoverLoseNothing) {
  ManualClock clock(kStart + 9'999);
  HitRateWindow w(clock, 6, 10'000);
  constexpr int kThreads = 4;
  constexpr int kEach = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&w, &clock, t] {
      for (int i = 0; i < kEach; ++i) {
        if (t == 0 && i == kEach / 2) clock.Advance(1);  // a new bucket begins mid-run
        w.Record(AnsweredBy::kL1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(w.Snapshot().hits, std::uint64_t{kThreads} * kEach);
}

}  // namespace
}  // namespace keycache
