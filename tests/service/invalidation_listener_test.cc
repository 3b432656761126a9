// InvalidationListener: other instances' messages reach L1; a lost channel shortens and flushes
// L1; its own messages and garbage change nothing.
#include "service/invalidation_listener.h"

#include <gtest/gtest.h>

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

class ListenerTest : public ::testing::Test {
 protected:
  ListenerTest()
      : l1_(L1Options{}, clock_),
        lag_({0.001, 0.01, 0.1, 1}),
        listener_(l1_, "me", 60'000, 1'000, lag_, log_) {}

  void Fill(KeyId id) {
    auto ticket = l1_.BeginFactsFill(id);
    ASSERT_TRUE(l1_.CompleteFactsFill(id, Facts(id), ticket));
  }
  std::string Message(KeyId id, std::string source) {
    InvalidationMessage m;
    m.id = id;
    m.owner = "team";
    m.source = std::move(source);
    m.sent_at_us = WallMicros();
    return EncodeInvalidation(m);
  }

  ManualClock clock_;
  Logger log_{LogLevel::kOff};
  L1Cache l1_;
  Histogram lag_;
  InvalidationListener listener_;
};

TEST_F(ListenerTest, StartsDegradedUntilSubscribed) {
  EXPECT_FALSE(listener_.channel_up());
  EXPECT_EQ(l1_.max_entry_age(), 1'000);
  listener_.OnSubscribed();
  EXPECT_TRUE(listener_.channel_up());
  EXPECT_EQ(l1_.max_entry_age(), 60'000);
}

TEST_F(ListenerTest, AnotherInstancesChangeDropsTheKeyAndRecordsTheLag) {
  listener_.OnSubscribed();
  Fill(1);
  Fill(2);
  listener_.OnMessage(Message(1, "other"));
  EXPECT_FALSE(l1_.GetFacts(1).has_value());
  EXPECT_TRUE(l1_.GetFacts(2).has_value());
  EXPECT_EQ(listener_.received(), 1u);
  EXPECT_EQ(lag_.Collect().count, 1u);
}

TEST_F(ListenerTest, AFillInFlightWhenTheMessageArrivesIsRefused) {
  listener_.OnSubscribed();
  auto ticket = l1_.BeginFactsFill(5);       // an L2 read is on its way...
  listener_.OnMessage(Message(5, "other"));  // ...and the invalidation overtakes its reply
  EXPECT_FALSE(l1_.CompleteFactsFill(5, Facts(5), ticket));
  EXPECT_FALSE(l1_.GetFacts(5).has_value());
}

TEST_F(ListenerTest, OwnMessagesAndGarbageChangeNothing) {
  listener_.OnSubscribed();
  Fill(3);
  listener_.OnMessage(Message(3, "me"));
  listener_.OnMessage("not json");
  EXPECT_TRUE(l1_.GetFacts(3).has_value());
  EXPECT_EQ(listener_.received(), 0u);
  EXPECT_EQ(listener_.rejected(), 1u);
}

TEST_F(ListenerTest, ALostChannelFlushesL1AndShortensItsEntries) {
  listener_.OnSubscribed();
  Fill(4);
  listener_.OnDisconnected();
  EXPECT_FALSE(listener_.channel_up());
  EXPECT_FALSE(l1_.GetFacts(4).has_value());
  Fill(4);
  clock_.Advance(1'001);
  EXPECT_FALSE(l1_.GetFacts(4).has_value()) << "entries die young while the channel is down";
  listener_.OnSubscribed();
  Fill(4);
  clock_.Advance(1'001);
  EXPECT_TRUE(l1_.GetFacts(4).has_value());
  clock_.Advance(60'000);
  EXPECT_FALSE(l1_.GetFacts(4).has_value()) << "the max age is a backstop";
}

TEST_F(ListenerTest, TypeAndAllMessagesClearL1) {
  listener_.OnSubscribed();
  Fill(6);
  InvalidationMessage all;
  all.kind = InvalidationMessage::Kind::kAll;
  all.source = "other";
  listener_.OnMessage(EncodeInvalidation(all));
  EXPECT_FALSE(l1_.GetFacts(6).has_value());
  Fill(7);
  InvalidationMessage type;
  type.kind = InvalidationMessage::Kind::kType;
  type.type = CacheType::kValidation;
  type.source = "other";
  listener_.OnMessage(EncodeInvalidation(type));
  EXPECT_FALSE(l1_.GetFacts(7).has_value());
}

}  // namespace
}  // namespace keycache
