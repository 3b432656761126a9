// RedisInvalidator against a real redis-server: a change made while Redis is away is kept and
// replayed (generation bumped, message published) once Redis answers; the backlog is bounded.
#include "service/redis_invalidator.h"

#include <gtest/gtest.h>

#include "redis/redis_subscriber.h"
#include "redis/redis_test_util.h"
#include "support/keycached_process.h"
#include "support/redis_server_process.h"

namespace keycache::testing {
namespace {

using namespace std::chrono_literals;

class RedisInvalidatorTest : public ::testing::Test {
 protected:
  RedisInvalidatorTest() : breaker_(3), metrics_(registry_), sealer_(std::string(40, 'p')) {}

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
    l2_ = std::make_unique<L2Cache>(*client_, breaker_, L2Keys("inv:"), sealer_, L2Options{},
                                    metrics_, io_.executor(0));
    invalidator_ = std::make_unique<RedisInvalidator>(*l2_, "node-x", log_);
  }

  std::string Get(const std::string& name) {
    auto replies = client_->ExecuteSync(Cmd({"GET", name}));
    return replies ? (*replies)[0].str : "<error>";
  }

  Logger log_{LogLevel::kOff};
  Registry registry_;
  CircuitBreaker breaker_;
  L2Metrics metrics_;
  const EntrySealer sealer_;
  IoThreads io_{1};
  std::unique_ptr<RedisServerProcess> server_;
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<L2Cache> l2_;
  std::unique_ptr<RedisInvalidator> invalidator_;
};

TEST_F(RedisInvalidatorTest, AChangeIsPublishedAndBumpsTheGeneration) {
  std::vector<std::string> received;
  std::mutex mu;
  RedisSubscriber sub(io_.executor(0), server_->ClientOptions(), "inv:invalidations",
                      {[&](std::string_view m) {
                         std::lock_guard lock(mu);
                         received.emplace_back(m);
                       },
                       {},
                       {}},
                      log_);
  sub.Start();
  ASSERT_TRUE(PollUntil([&] { return sub.subscribed(); }));
  invalidator_->KeyChanged(77, "team");
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

TEST_F(RedisInvalidatorTest, ChangesWhileRedisIsAwayAreReplayedWhenItAnswers) {
  breaker_.Open("test: Redis away");
  invalidator_->KeyChanged(88, "team");
  invalidator_->OwnerChanged("other");
  EXPECT_EQ(invalidator_->pending(), 2u);
  EXPECT_EQ(Get(l2_->keys().Generation(88)), "") << "nothing was sent while the breaker was open";
  EXPECT_TRUE(invalidator_->ReplayPending());
  EXPECT_EQ(invalidator_->pending(), 0u);
  EXPECT_EQ(Get(l2_->keys().Generation(88)), "1");
  EXPECT_EQ(Get(l2_->keys().OwnerGeneration("other")), "1");
}

TEST_F(RedisInvalidatorTest, AFailedReplayKeepsTheBacklog) {
  breaker_.Open("test");
  invalidator_->KeyChanged(99, "team");
  server_->Kill();
  EXPECT_FALSE(invalidator_->ReplayPending());
  EXPECT_EQ(invalidator_->pending(), 1u);
  ASSERT_TRUE(server_->Restart());
  ASSERT_TRUE(PollUntil([&] { return invalidator_->ReplayPending(); }));
  EXPECT_EQ(Get(l2_->keys().Generation(99)), "1");
}

TEST_F(RedisInvalidatorTest, TheBacklogIsBoundedByCollapsingIntoClearAll) {
  breaker_.Open("test");
  for (std::size_t i = 0; i < RedisInvalidator::kMaxPending + 5; ++i) {
    invalidator_->KeyChanged(1000 + i, "");
  }
  EXPECT_LE(invalidator_->pending(), 6u);
  EXPECT_TRUE(invalidator_->ReplayPending());
}

}  // namespace
}  // namespace keycache::testing
