// RedisInvalidator against a real redis-server: a change is fenced and published before it is
// reported in force; a change Redis does not take (away, or refusing writes) is reported Pending,
// kept and replayed once Redis answers; the backlog is bounded.
#include "l2/redis_invalidator.h"

#include <gtest/gtest.h>

#include <future>

#include "redis/redis_subscriber.h"
#include "redis/redis_test_util.h"
#include "support/keycached_process.h"
#include "support/redis_server_process.h"

namespace keycache::testing {
namespace {

using namespace std::chrono_literals;

class RedisInvalidatorTest : public ::testing::Test {
 protected:
  RedisInvalidatorTest()
      : breaker_(3), lease_(1h), metrics_(registry_), sealer_(std::string(40, 'p')) {}

  void SetUp() override {
    RedisServerOptions o;
    o.password = "inv-pass";
    server_ = std::make_unique<RedisServerProcess>(o);
    ASSERT_TRUE(server_->Start());
    RedisOptions ro = server_->ClientOptions();
    ro.pool_size = 1;
    client_ = std::make_unique<RedisClient>(io_.executors(), ro, log_);
    client_->Start();
    ASSERT_TRUE(PollUntil([&] { return client_->connected(); }));
    l2_ = std::make_unique<L2Cache>(*client_, breaker_, lease_, L2Keys("inv:"), sealer_,
                                    L2Options{}, metrics_, io_.executor(0));
    invalidator_ =
        std::make_unique<RedisInvalidator>(*l2_, breaker_, "node-x", io_.executor(0), log_);
  }

  void TearDown() override {
    if (client_) client_->Stop();
    io_.Drain();
  }

  std::string Get(const std::string& name) {
    auto replies = client_->ExecuteSync(Cmd({"GET", name}));
    return replies ? (*replies)[0].str : "<error>";
  }

  // Announces and waits for the report.
  Propagation Announce(CacheChange c) {
    std::promise<Propagation> done;
    auto f = done.get_future();
    invalidator_->Announce(c, [&done](Propagation p) { done.set_value(std::move(p)); });
    if (f.wait_for(30s) != std::future_status::ready) throw std::runtime_error("no report");
    return f.get();
  }
  bool Replay() {
    auto task = invalidator_->ReplayPending();
    return boost::asio::co_spawn(io_.executor(0), std::move(task), boost::asio::use_future).get();
  }

  Logger log_{LogLevel::kOff};
  Registry registry_;
  CircuitBreaker breaker_;
  CoherenceLease lease_;
  L2Metrics metrics_;
  const EntrySealer sealer_;
  IoThreads io_{1};
  std::unique_ptr<RedisServerProcess> server_;
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<L2Cache> l2_;
  std::unique_ptr<RedisInvalidator> invalidator_;
};

TEST_F(RedisInvalidatorTest, AChangeIsFencedAndPublishedBeforeItIsInForce) {
  std::vector<std::string> received;
  std::mutex mu;
  RedisSubscriber sub(io_.executor(0), server_->ClientOptions(), "inv:invalidations",
                      {.on_message =
                           [&](std::string_view m) {
                             std::lock_guard lock(mu);
                             received.emplace_back(m);
                           }},
                      log_);
  sub.Start();
  ASSERT_TRUE(PollUntil([&] { return sub.subscribed(); }));
  const Propagation p = Announce(CacheChange::Key(77, "team"));
  EXPECT_TRUE(p.in_force) << p.reason;
  EXPECT_EQ(invalidator_->pending(), 0u);
  EXPECT_EQ(Get(l2_->keys().Generation(77)), "1");
  EXPECT_EQ(Get(l2_->keys().OwnerGeneration("team")), "1");
  ASSERT_TRUE(PollUntil([&] {
    std::lock_guard lock(mu);
    return !received.empty();
  }));
  std::lock_guard lock(mu);
  EXPECT_NE(received[0].find("\"src\":\"node-x\""), std::string::npos) << received[0];
  sub.Stop();
}

TEST_F(RedisInvalidatorTest, ChangesWhileRedisIsAwayArePendingAndReplayedWhenItAnswers) {
  breaker_.Open("test: Redis away");
  const Propagation p = Announce(CacheChange::Key(88, "team"));
  EXPECT_FALSE(p.in_force);
  EXPECT_NE(p.reason.find("Redis away"), std::string::npos) << p.reason;
  EXPECT_FALSE(Announce(CacheChange::Owner("other")).in_force);
  EXPECT_EQ(invalidator_->pending(), 2u);
  EXPECT_EQ(Get(l2_->keys().Generation(88)), "") << "nothing was sent while the breaker was open";
  EXPECT_TRUE(Replay());
  EXPECT_EQ(invalidator_->pending(), 0u);
  EXPECT_EQ(Get(l2_->keys().Generation(88)), "1");
  EXPECT_EQ(Get(l2_->keys().OwnerGeneration("other")), "1");
}

TEST_F(RedisInvalidatorTest, ARefusedFenceIsPendingWithTheRefusalAsItsReason) {
  auto ro = client_->ExecuteSync(Cmd({"REPLICAOF", "127.0.0.1", "1"}));
  ASSERT_TRUE(ro);
  const Propagation p = Announce(CacheChange::Key(90, "team"));
  EXPECT_FALSE(p.in_force);
  EXPECT_NE(p.reason.find("READONLY"), std::string::npos) << p.reason;
  EXPECT_EQ(invalidator_->pending(), 1u);
  ASSERT_TRUE(client_->ExecuteSync(Cmd({"REPLICAOF", "NO", "ONE"})));
  EXPECT_TRUE(Replay());
  EXPECT_EQ(Get(l2_->keys().Generation(90)), "1");
}

TEST_F(RedisInvalidatorTest, AFailedReplayKeepsTheBacklog) {
  breaker_.Open("test");
  EXPECT_FALSE(Announce(CacheChange::Key(99, "team")).in_force);
  server_->Kill();
  EXPECT_FALSE(Replay());
  EXPECT_EQ(invalidator_->pending(), 1u);
  ASSERT_TRUE(server_->Restart());
  ASSERT_TRUE(PollUntil([&] { return Replay(); }));
  EXPECT_EQ(Get(l2_->keys().Generation(99)), "1");
}

TEST_F(RedisInvalidatorTest, TheBacklogIsBoundedByCollapsingIntoClearAll) {
  breaker_.Open("test");
  for (std::size_t i = 0; i < RedisInvalidator::kMaxPending + 5; ++i) {
    invalidator_->Announce(CacheChange::Key(1000 + i, ""), {});
  }
  EXPECT_LE(invalidator_->pending(), 6u);
  EXPECT_TRUE(Replay());
}

}  // namespace
}  // namespace keycache::testing
