#include "metrics/histogram.h"

#include <gtest/gtest.h>

#include <limits>
#include <thread>
#include <vector>

namespace keycache {
namespace {

TEST(Histogram, BoundaryValuesLandInTheirOwnBucket) {
  Histogram h({0.25, 0.5, 1});
  h.Observe(0.25);  // le="0.25" is inclusive
  h.Observe(0.5);
  h.Observe(1);
  const auto snap = h.Collect();
  EXPECT_EQ(snap.cumulative, (std::vector<std::uint64_t>{1, 2, 3, 3}));
}

TEST(Histogram, ValuesBetweenBoundsGoUpAndLargeValuesGoToInf) {
  Histogram h({0.25, 0.5, 1});
  h.Observe(-1);      // below every bound: first bucket
  h.Observe(0.3);     // -> 0.5
  h.Observe(0.75);    // -> 1
  h.Observe(1.0001);  // -> +Inf
  h.Observe(std::numeric_limits<double>::infinity());
  const auto snap = h.Collect();
  EXPECT_EQ(snap.cumulative, (std::vector<std::uint64_t>{1, 2, 3, 5}));
  EXPECT_EQ(snap.count, 5u);
}

TEST(Histogram, SumAndCountTrackObservations) {
  Histogram h({1});
  h.Observe(0.5);
  h.Observe(0.25);
  h.Observe(4);
  const auto snap = h.Collect();
  EXPECT_EQ(snap.count, 3u);
  EXPECT_EQ(snap.sum, 4.75);
}

TEST(Histogram, NanIsIgnored) {
  Histogram h({1});
  h.Observe(std::numeric_limits<double>::quiet_NaN());
  h.Observe(2);
  const auto snap = h.Collect();
  EXPECT_EQ(snap.count, 1u);
  EXPECT_EQ(snap.sum, 2.0);
}

TEST(Histogram, WithoutBoundsOnlyInfExists) {
  Histogram h({});
  h.Observe(7);
  EXPECT_EQ(h.Collect().cumulative, (std::vector<std::uint64_t>{1}));
}

TEST(Histogram, ManyBucketsSpanSeveralCacheLinesPerSlot) {
  const std::vector<double> bounds = LatencyBucketsSeconds();
  ASSERT_GT(bounds.size(), 8u);
  Histogram h(bounds);
  for (double b : bounds) h.Observe(b);
  const auto snap = h.Collect();
  for (std::size_t i = 0; i < bounds.size(); ++i) EXPECT_EQ(snap.cumulative[i], i + 1) << i;
  EXPECT_EQ(snap.count, bounds.size());
}

TEST(Histogram, ConcurrentObservationsAreAllCounted) {
  constexpr int kThreads = 4;
  constexpr int kObservations = 50'000;
  Histogram h({1, 2});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < kObservations; ++i) h.Observe(t % 2 == 0 ? 1 : 2);
    });
  }
  for (auto& t : threads) t.join();
  const auto snap = h.Collect();
  EXPECT_EQ(snap.cumulative,
            (std::vector<std::uint64_t>{2 * kObservations, 4 * kObservations, 4 * kObservations}));
  EXPECT_EQ(snap.sum, 2.0 * kObservations * 1 + 2.0 * kObservations * 2);
}

TEST(HistogramDeathTest, RejectsBoundsThatAreNotStrictlyIncreasing) {
  EXPECT_DEATH({ Histogram h({1, 1}); }, "strictly increasing");
  EXPECT_DEATH({ Histogram h({2, 1}); }, "strictly increasing");
  EXPECT_DEATH({ Histogram h({1, std::numeric_limits<double>::infinity()}); }, "finite");
}

}  // namespace
}  // namespace keycache
