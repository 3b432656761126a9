// RedisTier (heartbeat, lease, listener, breaker) against a real, hardened redis-server: the lease
// is held once a heartbeat comes back; a Redis that refuses writes (READONLY) fails the heartbeat,
// opens the breaker with the reply and lets the lease lapse, and the tier recovers by itself;
// a killed subscription or an unreadable push revokes the lease, and L1 is flushed before it is
// held again.
#include <gtest/gtest.h>

#include "l2/redis_tier.h"
#include "redis/redis_test_util.h"
#include "support/keycached_process.h"
#include "support/redis_server_process.h"

namespace keycache::testing {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<const KeyFacts> Facts(KeyId id) {
  auto f = std::make_shared<KeyFacts>();
  f->id = id;
  f->owner_id = "team";
  return f;
}

class RedisTierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RedisServerOptions o;
    o.password = "tier-pass";
    server_ = std::make_unique<RedisServerProcess>(o);
    ASSERT_TRUE(server_->Start());
    settings_.enabled = true;
    settings_.host = "127.0.0.1";
    settings_.port = server_->port();
    settings_.password = "tier-pass";
    settings_.pool_size = 2;
    settings_.instance_id = "tier-test";
    settings_.command_timeout_ms = 1000;
    settings_.breaker_probe_ms = 50;
    settings_.lease_ms = 400;
    tier_ = std::make_unique<RedisTier>(
        RedisTierOptions{.settings = settings_, .pepper = std::string(40, 'p'), .l2 = {}},
        io_.executors(), l1_, registry_, log_);
    std::string error;
    ASSERT_TRUE(tier_->Start(5s, error)) << error;
    ASSERT_TRUE(PollUntil([&] { return tier_->shared().Coherent(); }))
        << tier_->Status().breaker_reason;
  }
  void TearDown() override {
    if (tier_) tier_->Stop();
    tier_.reset();
  }

  void Fill(KeyId id) {
    auto ticket = l1_.BeginFactsFill(id);
    ASSERT_TRUE(l1_.CompleteFactsFill(id, Facts(id), ticket));
  }
  RedisReply Raw(std::initializer_list<std::string_view> args) {
    RedisOptions ro = server_->ClientOptions();
    ro.pool_size = 1;
    RedisClient c(io_.executors(), ro, log_);
    c.Start();
    EXPECT_TRUE(PollUntil([&] { return c.connected(); }));
    auto r = c.ExecuteSync(Cmd(args));
    c.Stop();
    return r ? (*r)[0] : RedisReply::Error("failed");
  }

  Logger log_{LogLevel::kOff};
  ManualClock clock_;
  L1Cache l1_{L1Options{}, clock_};
  Registry registry_;
  RedisSettings settings_;
  IoThreads io_{2};
  std::unique_ptr<RedisServerProcess> server_;
  std::unique_ptr<RedisTier> tier_;
};

TEST_F(RedisTierTest, TheLeaseIsHeldAndTheBreakerClosedOnceAHeartbeatComesBack) {
  const TierStatus s = tier_->Status();
  EXPECT_TRUE(s.lease_held);
  EXPECT_FALSE(s.breaker_open);
  EXPECT_TRUE(s.channel_up);
  EXPECT_GE(s.last_renewal_age_seconds, 0);
}

TEST_F(RedisTierTest, ARedisRefusingWritesLapsesTheLeaseAndTheTierRecoversByItself) {
  ASSERT_TRUE(Raw({"REPLICAOF", "127.0.0.1", "1"}).is_status());
  ASSERT_TRUE(PollUntil([&] { return !tier_->shared().Coherent(); }))
      << "heartbeats Redis refuses must not renew the lease";
  const TierStatus s = tier_->Status();
  EXPECT_TRUE(s.breaker_open);
  EXPECT_NE(s.breaker_reason.find("READONLY"), std::string::npos) << s.breaker_reason;
  ASSERT_TRUE(Raw({"REPLICAOF", "NO", "ONE"}).is_status());
  EXPECT_TRUE(PollUntil([&] { return tier_->shared().Usable(); }))
      << tier_->Status().breaker_reason;
}

TEST_F(RedisTierTest, AKilledSubscriptionRevokesTheLeaseAndL1IsFlushedBeforeItIsHeldAgain) {
  Fill(1);
  ASSERT_TRUE(Raw({"CLIENT", "KILL", "TYPE", "pubsub"}).is_integer());
  // The lease lapses at once on the disconnect and comes back with the next heard heartbeat.
  ASSERT_TRUE(PollUntil([&] { return !l1_.GetFacts(1).has_value(); }))
      << "L1 kept an entry across a possible loss of invalidations";
  EXPECT_TRUE(PollUntil([&] { return tier_->shared().Coherent(); }));
}

// Regression (issue 7): a push that is not a readable message was ignored, losing invalidations.
TEST_F(RedisTierTest, AnUnreadablePushOnTheChannelRevokesTheLeaseAndFlushesL1) {
  Fill(2);
  const std::string channel = L2Keys(settings_.key_prefix).Channel();
  ASSERT_TRUE(Raw({"PUBLISH", channel, "garbage from someone with Redis access"}).is_integer());
  ASSERT_TRUE(PollUntil([&] { return tier_->Status().channel_anomalies >= 1; }));
  EXPECT_TRUE(PollUntil([&] { return !l1_.GetFacts(2).has_value(); }));
  EXPECT_TRUE(PollUntil([&] { return tier_->shared().Coherent(); }));
}

TEST_F(RedisTierTest, ASilentRedisLapsesTheLeaseAndItComesBackAfter) {
  server_->Pause();
  ASSERT_TRUE(PollUntil([&] { return !tier_->shared().Coherent(); }));
  // Behaviour, not timing: the lease was not renewed by anything sent after the pause.
  EXPECT_FALSE(tier_->shared().Coherent());
  server_->Resume();
  EXPECT_TRUE(PollUntil([&] { return tier_->shared().Coherent(); }, 20s));
}

}  // namespace
}  // namespace keycache::testing
