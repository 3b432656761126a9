#include "cache/usage_counter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace keycache {
namespace {

std::map<KeyId, UsageDelta> ById(std::vector<UsageDelta> deltas) {
  std::map<KeyId, UsageDelta> out;
  for (UsageDelta& d : deltas) {
    const KeyId id = d.id;
    EXPECT_TRUE(out.emplace(id, std::move(d)).second) << "duplicate id " << id;
  }
  return out;
}

TEST(UsageCounterTest, RecordCountsAndKeepsTheNewestUse) {
  UsageCounter usage;
  usage.Record(1, 1000, "10.0.0.1");
  usage.Record(1, 3000, "10.0.0.3");
  usage.Record(1, 2000, "10.0.0.2");  // older than what is recorded: counted, time kept
  usage.Record(2, 500, "192.168.1.1");

  auto one = usage.Pending(1);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->count, 3u);
  EXPECT_EQ(one->last_used_at, 3000);
  EXPECT_EQ(one->last_used_ip, "10.0.0.3");
  EXPECT_FALSE(usage.Pending(3).has_value());
  EXPECT_EQ(usage.Size(), 2u);
}

TEST(UsageCounterTest, DrainTakesEverything) {
  UsageCounter usage;
  usage.Record(1, 1000, "a");
  usage.Record(2, 2000, "b");
  usage.Record(2, 2500, "c");
  auto drained = ById(usage.Drain());
  ASSERT_EQ(drained.size(), 2u);
  EXPECT_EQ(drained[1].count, 1u);
  EXPECT_EQ(drained[2].count, 2u);
  EXPECT_EQ(drained[2].last_used_at, 2500);
  EXPECT_EQ(drained[2].last_used_ip, "c");
  EXPECT_EQ(usage.Size(), 0u);
  EXPECT_TRUE(usage.Drain().empty());
}

TEST(UsageCounterTest, RestoreAddsCountsAndKeepsTheNewestTimeAndIp) {
  UsageCounter usage;
  usage.Record(1, 1000, "old-1");
  usage.Record(1, 1100, "old-1b");
  usage.Record(2, 5000, "old-2");
  std::vector<UsageDelta> failed_flush = usage.Drain();

  // Uses recorded while the flush was failing.
  usage.Record(1, 2000, "new-1");  // newer than the restored time
  usage.Record(2, 4000, "new-2");  // older than the restored time
  usage.Record(3, 100, "new-3");   // a key only seen since
  usage.Restore(std::move(failed_flush));

  auto merged = ById(usage.Drain());
  ASSERT_EQ(merged.size(), 3u);
  EXPECT_EQ(merged[1].count, 3u);
  EXPECT_EQ(merged[1].last_used_at, 2000);
  EXPECT_EQ(merged[1].last_used_ip, "new-1");
  EXPECT_EQ(merged[2].count, 2u);
  EXPECT_EQ(merged[2].last_used_at, 5000);
  EXPECT_EQ(merged[2].last_used_ip, "old-2");
  EXPECT_EQ(merged[3].count, 1u);
}

TEST(UsageCounterTest, RestoreIntoAnEmptyCounterGivesBackTheSameDeltas) {
  UsageCounter usage;
  usage.Restore({UsageDelta{9, 4, 77, "ip"}});
  auto pending = usage.Pending(9);
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->count, 4u);
  EXPECT_EQ(pending->last_used_at, 77);
  EXPECT_EQ(pending->last_used_ip, "ip");
}

// Drain keeps a used key's entry for reuse; it must then behave exactly like a fresh one.
TEST(UsageCounterTest, AKeyUsedAgainAfterADrainStartsAfresh) {
  UsageCounter usage;
  usage.Record(1, 5000, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff");
  ASSERT_EQ(usage.Drain().size(), 1u);
  EXPECT_FALSE(usage.Pending(1).has_value());
  EXPECT_EQ(usage.Size(), 0u);

  usage.Record(1, 4000, "10.0.0.9");  // older than the drained use: still this interval's newest
  auto pending = usage.Pending(1);
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->count, 1u);
  EXPECT_EQ(pending->last_used_at, 4000);
  EXPECT_EQ(pending->last_used_ip, "10.0.0.9");
  EXPECT_EQ(usage.Size(), 1u);
}

TEST(UsageCounterTest, DrainReturnsOnlyKeysUsedSinceTheLastDrain) {
  UsageCounter usage(1);  // one shard: kept and fresh entries side by side
  usage.Record(1, 100, "a");
  usage.Record(2, 100, "b");
  ASSERT_EQ(usage.Drain().size(), 2u);
  usage.Record(1, 200, "c");
  auto drained = ById(usage.Drain());
  ASSERT_EQ(drained.size(), 1u);
  EXPECT_EQ(drained[1].count, 1u);
  EXPECT_EQ(drained[1].last_used_ip, "c");
  EXPECT_TRUE(usage.Drain().empty());
  EXPECT_TRUE(usage.Drain().empty());
  EXPECT_FALSE(usage.Pending(2).has_value());
  EXPECT_EQ(usage.Size(), 0u);
}

TEST(UsageCounterTest, RestoreIntoAKeptEntryGivesBackTheSameDelta) {
  UsageCounter usage;
  usage.Record(7, 300, "x");
  usage.Record(7, 100, "y");
  std::vector<UsageDelta> failed_flush = usage.Drain();
  usage.Restore({UsageDelta{8, 2, 0, ""}});  // a time-0 delta into a new entry
  usage.Restore(std::move(failed_flush));
  auto pending = usage.Pending(7);
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->count, 2u);
  EXPECT_EQ(pending->last_used_at, 300);
  EXPECT_EQ(pending->last_used_ip, "x");
  EXPECT_EQ(usage.Size(), 2u);
}

// Each thread records into a shard of its own; Drain and Pending merge a key's entries from
// every thread into one delta (summed count, the newest time and its IP).
TEST(UsageCounterTest, AKeyUsedOnSeveralThreadsDrainsAsOneDelta) {
  UsageCounter usage;
  usage.Record(7, 1000, "main");
  std::thread([&] {
    usage.Record(7, 3000, "other");
    usage.Record(8, 10, "other");
  }).join();
  std::thread([&] { usage.Record(7, 2000, "third"); }).join();
  auto pending = usage.Pending(7);
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->count, 3u);
  EXPECT_EQ(pending->last_used_at, 3000);
  EXPECT_EQ(pending->last_used_ip, "other");
  auto drained = ById(usage.Drain());  // ById fails on a duplicate id
  ASSERT_EQ(drained.size(), 2u);
  EXPECT_EQ(drained[7].count, 3u);
  EXPECT_EQ(drained[7].last_used_at, 3000);
  EXPECT_EQ(drained[7].last_used_ip, "other");
  EXPECT_EQ(drained[8].count, 1u);
  EXPECT_FALSE(usage.Pending(7).has_value());
}

// N threads x M records, while another thread drains concurrently: the drained counts plus the
// final drain add up exactly.
TEST(UsageCounterTest, ConcurrentRecordsAndDrainsLoseNothing) {
  UsageCounter usage(4);
  constexpr int kThreads = 4;
  constexpr int kRecords = 20'000;
  constexpr KeyId kKeys = 37;
  std::atomic<int> finished{0};
  std::map<KeyId, std::uint64_t> drained;  // touched by the drain thread, then by the test

  std::thread drainer([&] {
    auto take = [&] {
      for (const UsageDelta& d : usage.Drain()) drained[d.id] += d.count;
    };
    while (finished.load() < kThreads) take();
    take();
  });
  std::vector<std::thread> recorders;
  recorders.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    recorders.emplace_back([&, t] {
      for (int i = 0; i < kRecords; ++i) {
        usage.Record(static_cast<KeyId>(i) % kKeys, i, t % 2 == 0 ? "even" : "odd");
      }
      finished.fetch_add(1);
    });
  }
  for (std::thread& t : recorders) t.join();
  drainer.join();

  std::uint64_t total = 0;
  for (const auto& [id, count] : drained) total += count;
  EXPECT_EQ(total, std::uint64_t{kThreads} * kRecords);
  EXPECT_EQ(drained.size(), kKeys);
  EXPECT_EQ(usage.Size(), 0u);
}

}  // namespace
}  // namespace keycache
