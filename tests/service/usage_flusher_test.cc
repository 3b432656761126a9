// UsageFlusher: pending usage reaches the store with exact counts, a failed batch is put back
// and written exactly once by a later flush, and Run() flushes until told to stop.
#include "service/usage_flusher.h"

#include <gtest/gtest.h>

#include <atomic>

#include "service_test_util.h"

namespace keycache {
namespace {

using testing::Must;
using testing::ServiceHarness;

class UsageFlusherTest : public ::testing::Test {
 protected:
  KeyRecord Stored(KeyId id) {
    auto found = Must(h_.sqlite->FindById(id), "FindById");
    if (!found) throw std::runtime_error("key vanished");
    return *found;
  }

  ServiceHarness h_;
  UsageFlusher flusher_{h_.usage, h_.store, h_.metrics, h_.log};
};

TEST_F(UsageFlusherTest, FlushWritesExactCountsAndTheNewestUse) {
  const KeyId a = h_.InsertDirect("owner-1").record.id;
  const KeyId b = h_.InsertDirect("owner-1").record.id;
  const TimeMs t = h_.clock.NowMs();
  for (int i = 0; i < 7; ++i) h_.usage.Record(a, t + i, "203.0.113." + std::to_string(i));
  h_.usage.Record(b, t + 100, "2001:db8::1");
  h_.usage.Record(b, t + 50, "203.0.113.99");  // older: does not replace the newest use

  EXPECT_EQ(Must(flusher_.FlushOnce(), "FlushOnce"), 2u);
  EXPECT_EQ(h_.usage.Size(), 0u);
  KeyRecord ra = Stored(a), rb = Stored(b);
  EXPECT_EQ(ra.usage_count, 7u);
  EXPECT_EQ(ra.last_used_at, t + 6);
  EXPECT_EQ(ra.last_used_ip, "203.0.113.6");
  EXPECT_EQ(rb.usage_count, 2u);
  EXPECT_EQ(rb.last_used_at, t + 100);
  EXPECT_EQ(rb.last_used_ip, "2001:db8::1");

  // Nothing pending: nothing written, counts unchanged.
  EXPECT_EQ(Must(flusher_.FlushOnce(), "FlushOnce"), 0u);
  EXPECT_EQ(Stored(a).usage_count, 7u);

  h_.usage.Record(a, t + 10, "203.0.113.10");
  EXPECT_EQ(Must(flusher_.FlushOnce(), "FlushOnce"), 1u);
  EXPECT_EQ(Stored(a).usage_count, 8u);
  EXPECT_EQ(Stored(a).last_used_ip, "203.0.113.10");
}

TEST_F(UsageFlusherTest, AFailedFlushIsRestoredAndWrittenExactlyOnceLater) {
  const KeyId a = h_.InsertDirect("owner-1").record.id;
  const KeyId b = h_.InsertDirect("owner-1").record.id;
  const TimeMs t = h_.clock.NowMs();
  for (int i = 0; i < 5; ++i) h_.usage.Record(a, t, "203.0.113.1");
  h_.usage.Record(b, t, "203.0.113.2");

  h_.store.fail_add_usage = true;
  auto failed = flusher_.FlushOnce();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), Errc::kDatabase);
  EXPECT_EQ(h_.usage.Pending(a).value().count, 5u);
  EXPECT_EQ(h_.usage.Pending(b).value().count, 1u);
  EXPECT_EQ(Stored(a).usage_count, 0u);

  // Uses recorded between the failure and the retry add up with the restored batch.
  h_.usage.Record(a, t + 1, "203.0.113.3");
  ASSERT_FALSE(flusher_.FlushOnce());  // still failing: restored again, nothing lost or doubled
  h_.store.fail_add_usage = false;

  EXPECT_EQ(Must(flusher_.FlushOnce(), "FlushOnce"), 2u);
  EXPECT_EQ(Stored(a).usage_count, 6u);
  EXPECT_EQ(Stored(a).last_used_at, t + 1);
  EXPECT_EQ(Stored(a).last_used_ip, "203.0.113.3");
  EXPECT_EQ(Stored(b).usage_count, 1u);
  EXPECT_EQ(h_.usage.Size(), 0u);

  EXPECT_EQ(Must(flusher_.FlushOnce(), "FlushOnce"), 0u);
  EXPECT_EQ(Stored(a).usage_count, 6u);
  EXPECT_EQ(Stored(b).usage_count, 1u);
  EXPECT_EQ(h_.store.add_usage_calls.load(), 3);
}

TEST_F(UsageFlusherTest, UsageOfADeletedKeyIsDropped) {
  const KeyId a = h_.InsertDirect("owner-1").record.id;
  const KeyId gone = h_.InsertDirect("owner-1").record.id;
  h_.usage.Record(a, h_.clock.NowMs(), "203.0.113.1");
  h_.usage.Record(gone, h_.clock.NowMs(), "203.0.113.1");
  ASSERT_TRUE(h_.sqlite->Delete(gone));
  EXPECT_TRUE(flusher_.FlushOnce());
  EXPECT_EQ(Stored(a).usage_count, 1u);
  EXPECT_EQ(h_.usage.Size(), 0u);
}

TEST_F(UsageFlusherTest, RunFlushesPeriodicallyUntilStopped) {
  const KeyId a = h_.InsertDirect("owner-1").record.id;
  std::atomic<bool> stop{false};
  testing::ScopeExit stop_on_exit([&stop] { stop = true; });
  auto running = h_.io.Spawn(flusher_.Run(std::chrono::milliseconds(1), h_.db, stop));

  h_.usage.Record(a, h_.clock.NowMs(), "203.0.113.1");
  ASSERT_TRUE(testing::PollUntil([&] { return Stored(a).usage_count == 1; }));
  h_.usage.Record(a, h_.clock.NowMs(), "203.0.113.1");
  h_.usage.Record(a, h_.clock.NowMs(), "203.0.113.1");
  ASSERT_TRUE(testing::PollUntil([&] { return Stored(a).usage_count == 3; }));

  stop = true;
  testing::IoThread::Get(std::move(running));  // returns once the loop sees the flag
  EXPECT_EQ(Stored(a).usage_count, 3u);
}

}  // namespace
}  // namespace keycache
