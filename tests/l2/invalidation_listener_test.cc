// InvalidationListener: other instances' changes reach L1 (and fills in flight are refused), its
// own changes heard back are applied again; its own heartbeats go to the lease keeper, other
// instances' heartbeats count as peers; a lost channel or a push it cannot read revokes the lease.
#include "l2/invalidation_listener.h"

#include <gtest/gtest.h>

#include <vector>

#include "cache/l1_invalidator.h"
#include "l2/invalidation_message.h"
#include "util/clock.h"

namespace keycache {
namespace {

std::shared_ptr<const KeyFacts> Facts(KeyId id) {
  auto f = std::make_shared<KeyFacts>();
  f->id = id;
  f->owner_id = "team";
  return f;
}

struct FakeLeaseKeeper final : LeaseKeeper {
  std::vector<std::uint64_t> heard;
  int lost = 0;
  void OnHeard(std::uint64_t seq) override { heard.push_back(seq); }
  void OnChannelLost() override { ++lost; }
};

class ListenerTest : public ::testing::Test {
 protected:
  ListenerTest()
      : l1_(L1Options{}, clock_),
        lag_({0.001, 0.01, 0.1, 1}),
        listener_(l1_, keeper_, "me", lag_, log_) {}

  void Fill(KeyId id) {
    auto ticket = l1_.BeginFactsFill(id);
    ASSERT_TRUE(l1_.CompleteFactsFill(id, Facts(id), ticket));
  }
  static std::string Encode(CacheChange c, std::string source) {
    InvalidationMessage m;
    m.change = std::move(c);
    m.source = std::move(source);
    m.sent_at_us = WallMicros();
    return EncodeInvalidation(m);
  }
  static std::string Beat(std::string source, std::uint64_t seq) {
    InvalidationMessage m;
    m.heartbeat = true;
    m.heartbeat_seq = seq;
    m.source = std::move(source);
    m.sent_at_us = WallMicros();
    return EncodeInvalidation(m);
  }

  ManualClock clock_;
  Logger log_{LogLevel::kOff};
  L1Cache l1_;
  Histogram lag_;
  FakeLeaseKeeper keeper_;
  InvalidationListener listener_;
};

TEST_F(ListenerTest, AnotherInstancesChangeDropsTheKeyAndRecordsTheLag) {
  listener_.OnSubscribed();
  Fill(1);
  Fill(2);
  listener_.OnMessage(Encode(CacheChange::Key(1, "team"), "other"));
  EXPECT_FALSE(l1_.GetFacts(1).has_value());
  EXPECT_TRUE(l1_.GetFacts(2).has_value());
  EXPECT_EQ(listener_.received(), 1u);
  EXPECT_EQ(lag_.Collect().count, 1u);
  EXPECT_EQ(keeper_.lost, 0);
}

TEST_F(ListenerTest, AFillInFlightWhenTheMessageArrivesIsRefused) {
  listener_.OnSubscribed();
  auto ticket = l1_.BeginFactsFill(5);                                // an L2 read is out...
  listener_.OnMessage(Encode(CacheChange::Key(5, "team"), "other"));  // ...and is overtaken
  EXPECT_FALSE(l1_.CompleteFactsFill(5, Facts(5), ticket));
  EXPECT_FALSE(l1_.GetFacts(5).has_value());
}

TEST_F(ListenerTest, OwnHeartbeatsRenewOthersArePeersAndOwnChangesAreNotCountedAsReceived) {
  listener_.OnSubscribed();
  listener_.OnMessage(Encode(CacheChange::Key(3, "team"), "me"));
  listener_.OnMessage(Beat("me", 41));
  listener_.OnMessage(Beat("other-1", 7));
  listener_.OnMessage(Beat("other-2", 9));
  EXPECT_EQ(keeper_.heard, std::vector<std::uint64_t>{41});
  EXPECT_EQ(listener_.peers(), 2u);
  EXPECT_EQ(listener_.received(), 0u);
  EXPECT_EQ(lag_.Collect().count, 0u);
}

// Regression (found by PgOutage in tests/model): this instance invalidates L1 at once, then fences
// Redis; a verification in between takes a fresh fill ticket, reads the old entry from Redis and
// fills L1 with it. Our own message, heard after the fence, must drop that refill.
TEST_F(ListenerTest, OwnChangeHeardBackDropsARefillFromBeforeTheFence) {
  listener_.OnSubscribed();
  Fill(3);
  ApplyToL1(l1_, CacheChange::Key(3, "team"));  // L1Invalidator, on the changing thread
  Fill(3);                                      // a refill from the not yet fenced Redis entry
  ASSERT_TRUE(l1_.GetFacts(3).has_value());
  listener_.OnMessage(Encode(CacheChange::Key(3, "team"), "me"));
  EXPECT_FALSE(l1_.GetFacts(3).has_value());
}

// Regression (issue 7): a push rewritten into something unreadable lost invalidations silently.
TEST_F(ListenerTest, AnUnreadablePushRevokesTheLease) {
  listener_.OnSubscribed();
  listener_.OnMessage("not json");
  listener_.OnMessage(R"({"v":1,"kind":"key","src":"x","ts_us":1})");  // no id
  listener_.OnAnomaly("a push that is not an array");
  EXPECT_EQ(keeper_.lost, 3);
  EXPECT_EQ(listener_.anomalies(), 3u);
}

TEST_F(ListenerTest, ALostChannelRevokesTheLease) {
  listener_.OnSubscribed();
  EXPECT_TRUE(listener_.channel_up());
  listener_.OnDisconnected();
  EXPECT_FALSE(listener_.channel_up());
  EXPECT_EQ(keeper_.lost, 1);
}

TEST_F(ListenerTest, TypeAndAllMessagesClearL1) {
  listener_.OnSubscribed();
  Fill(6);
  listener_.OnMessage(Encode(CacheChange::All(), "other"));
  EXPECT_FALSE(l1_.GetFacts(6).has_value());
  Fill(7);
  listener_.OnMessage(Encode(CacheChange::Type(CacheType::kValidation), "other"));
  EXPECT_FALSE(l1_.GetFacts(7).has_value());
}

}  // namespace
}  // namespace keycache
