// RedisSubscriber against a real redis-server.
#include "redis/redis_subscriber.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "redis/redis_client.h"
#include "redis/redis_test_util.h"
#include "support/redis_server_process.h"

namespace keycache::testing {
namespace {

using Clock = std::chrono::steady_clock;

class RedisSubscriberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RedisServerOptions so;
    so.password = "sub-pass";
    server_ = std::make_unique<RedisServerProcess>(so);
    ASSERT_TRUE(server_->Start());
  }

  std::unique_ptr<RedisSubscriber> MakeSubscriber(
      std::chrono::milliseconds ping = std::chrono::seconds(1),
      std::chrono::milliseconds command_timeout = std::chrono::seconds(5)) {
    RedisOptions o = server_->ClientOptions();
    o.command_timeout = command_timeout;
    o.connect_timeout = std::chrono::seconds(2);
    RedisSubscriber::Handlers h;
    h.on_message = [this](std::string_view payload) {
      std::lock_guard lock(mu_);
      messages_.emplace_back(payload);
    };
    h.on_subscribed = [this] { ++subscribed_; };
    h.on_disconnected = [this] { ++disconnected_; };
    auto s =
        std::make_unique<RedisSubscriber>(io_.executor(0), o, "kc:test", std::move(h), log_, ping);
    s->Start();
    return s;
  }
  std::unique_ptr<RedisClient> Publisher() {
    RedisOptions o = server_->ClientOptions();
    o.pool_size = 1;
    auto c = std::make_unique<RedisClient>(io_.executors(), o, log_);
    c->Start();
    EXPECT_TRUE(WaitFor([&] { return c->connected(); }));
    return c;
  }
  std::size_t message_count() {
    std::lock_guard lock(mu_);
    return messages_.size();
  }

  Logger log_{LogLevel::kOff};
  IoThreads io_{1};
  std::unique_ptr<RedisServerProcess> server_;
  std::mutex mu_;
  std::vector<std::string> messages_;
  std::atomic<int> subscribed_{0}, disconnected_{0};
};

TEST_F(RedisSubscriberTest, ReceivesPublishedMessagesInOrder) {
  auto sub = MakeSubscriber();
  ASSERT_TRUE(WaitFor([&] { return sub->subscribed(); })) << sub->last_error();
  EXPECT_EQ(subscribed_.load(), 1);
  auto pub = Publisher();
  constexpr int kN = 200;
  for (int i = 0; i < kN; ++i) {
    auto r = pub->ExecuteSync(Cmd({"PUBLISH", "kc:test", "m" + std::to_string(i)}));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ((*r)[0].integer, 1);  // one subscriber received it
  }
  auto other = pub->ExecuteSync(Cmd({"PUBLISH", "kc:other", "not for us"}));
  ASSERT_TRUE(other.has_value());
  ASSERT_TRUE(WaitFor([&] { return message_count() == kN; }));
  std::lock_guard lock(mu_);
  for (int i = 0; i < kN; ++i) EXPECT_EQ(messages_[i], "m" + std::to_string(i));
}

TEST_F(RedisSubscriberTest, ReportsDisconnectAndResubscribesAfterRestart) {
  auto sub = MakeSubscriber();
  ASSERT_TRUE(WaitFor([&] { return subscribed_.load() == 1; }));
  server_->Kill();
  ASSERT_TRUE(WaitFor([&] { return disconnected_.load() == 1; }));
  EXPECT_FALSE(sub->subscribed());
  ASSERT_TRUE(server_->Start());
  ASSERT_TRUE(WaitFor([&] { return subscribed_.load() == 2 && sub->subscribed(); }))
      << sub->last_error();
  auto pub = Publisher();
  ASSERT_TRUE(pub->ExecuteSync(Cmd({"PUBLISH", "kc:test", "after-restart"})).has_value());
  ASSERT_TRUE(WaitFor([&] { return message_count() == 1; }));
  EXPECT_EQ(disconnected_.load(), 1);
}

TEST_F(RedisSubscriberTest, PingKeepsLastSignOfLifeMoving) {
  auto sub = MakeSubscriber(std::chrono::milliseconds(20));
  ASSERT_TRUE(WaitFor([&] { return sub->subscribed(); }));
  // No messages are published: only PING replies can move it.
  for (int i = 0; i < 3; ++i) {
    const Clock::time_point seen = sub->last_sign_of_life();
    ASSERT_TRUE(WaitFor([&] { return sub->last_sign_of_life() > seen; }));
  }
  EXPECT_EQ(disconnected_.load(), 0);
}

TEST_F(RedisSubscriberTest, UnansweredPingIsADeadLink) {
  auto sub = MakeSubscriber(std::chrono::milliseconds(20), std::chrono::milliseconds(200));
  ASSERT_TRUE(WaitFor([&] { return sub->subscribed(); }));
  server_->Pause();
  const bool noticed = WaitFor([&] { return disconnected_.load() >= 1; });
  server_->Resume();
  ASSERT_TRUE(noticed);
  ASSERT_TRUE(WaitFor([&] { return subscribed_.load() >= 2 && sub->subscribed(); }))
      << sub->last_error();
}

TEST_F(RedisSubscriberTest, WrongPasswordIsReported) {
  RedisOptions o = server_->ClientOptions();
  o.password = "wrong";
  RedisSubscriber sub(io_.executor(0), o, "kc:test", {}, log_);
  sub.Start();
  ASSERT_TRUE(WaitFor([&] { return !sub.last_error().empty(); }));
  EXPECT_NE(sub.last_error().find("Redis authentication failed"), std::string::npos)
      << sub.last_error();
  EXPECT_FALSE(sub.subscribed());
}

}  // namespace
}  // namespace keycache::testing
