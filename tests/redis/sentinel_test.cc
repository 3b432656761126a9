// Sentinel mode against real processes (tests/support/sentinel_deployment.h: a hardened primary,
// two replicas, three Sentinels): the locator finds the primary, the handshake's ROLE check
// refuses a replica, and the pool and the subscriber follow a failover (the primary SIGKILLed,
// or demoted by SENTINEL FAILOVER while it stays up).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "redis/redis_client.h"
#include "redis/redis_subscriber.h"
#include "redis/redis_test_util.h"
#include "redis/sentinel_locator.h"
#include "support/redis_faults.h"
#include "support/sentinel_deployment.h"

namespace keycache::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class SentinelTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(deployment_.Start()); }

  std::shared_ptr<SentinelLocator> MakeLocator() {
    SentinelOptions o;
    o.sentinels = deployment_.SentinelAddresses();
    o.master_name = deployment_.options().master_name;
    o.connection.password = deployment_.options().sentinel_password;
    o.connection.connect_timeout = 1s;
    o.connection.command_timeout = 1s;
    o.poll_interval = 500ms;
    auto locator = std::make_shared<SentinelLocator>(io_.executor(0), std::move(o), log_);
    locator->Start();
    return locator;
  }
  RedisOptions ClientOptions(std::shared_ptr<SentinelLocator> locator) {
    RedisOptions o;
    o.password = deployment_.options().password;
    o.endpoint_source = std::move(locator);
    o.pool_size = 4;
    o.connect_timeout = 1s;
    o.command_timeout = 1s;
    o.client_name = "kc-sentinel-test";
    return o;
  }
  // Clients named kc-sentinel-test connected to data node `i` (CLIENT LIST over a raw socket).
  int OurClientsOn(std::size_t i) {
    auto list = RedisCommand(deployment_.data_node(i), {"CLIENT", "LIST"});
    if (!list || !list->is_string()) return -1;
    int n = 0;
    for (std::size_t at = 0;
         (at = list->str.find("name=kc-sentinel-test ", at)) != std::string::npos; ++at) {
      ++n;
    }
    return n;
  }
  // A client never counts more changes of primary than the Sentinels made. It may count one
  // before any Sentinel logs it: GET-MASTER-ADDR-BY-NAME names the promoted replica while the
  // other replicas are still being reconfigured, and `+switch-master` is written only at the end
  // of that phase. So the Sentinels' count is waited for (bounded), never read once.
  bool SentinelsLoggedAtLeast(std::uint64_t changes) {
    return WaitFor(
        [&] { return static_cast<std::uint64_t>(deployment_.PrimaryChanges()) >= changes; }, 30s);
  }
  // Retries a SET until it succeeds (the pool reconnects in the background); when it first did.
  std::optional<Clock::time_point> SetUntilOk(RedisClient& client, const std::string& value,
                                              std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      auto r = client.ExecuteSync(Cmd({"SET", "kc:sentinel", value}));
      if (r && (*r)[0].is_ok()) return Clock::now();
      std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
  }

  Logger log_{LogLevel::kOff};
  SentinelDeployment deployment_;
  IoThreads io_{2};
};

TEST_F(SentinelTest, FindsThePrimaryAndTheClientWorksThere) {
  auto locator = MakeLocator();
  ASSERT_TRUE(WaitFor([&] { return locator->Current().has_value(); })) << locator->last_error();
  const int primary = deployment_.PrimaryIndex();
  ASSERT_GE(primary, 0);
  EXPECT_EQ(locator->Current()->port, deployment_.data_node(primary).port());
  EXPECT_EQ(locator->failovers(), 0u);
  EXPECT_TRUE(WaitFor([&] { return locator->subscribed_sentinels() == 3; }));

  RedisClient client(io_.executors(), ClientOptions(locator), log_);
  client.Start();
  ASSERT_TRUE(WaitFor([&] { return client.connected_count() == 4; })) << client.last_error();
  ASSERT_TRUE(SetUntilOk(client, "v1", 5s));
  auto got = RedisCommand(deployment_.data_node(primary), {"GET", "kc:sentinel"});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->str, "v1");
  EXPECT_EQ(OurClientsOn(primary), 4);
  client.Stop();
  locator->Stop();
}

TEST_F(SentinelTest, AWrongSentinelPasswordIsReportedAsSuch) {
  SentinelOptions o;
  o.sentinels = deployment_.SentinelAddresses();
  o.connection.password = "not the sentinel password";
  o.connection.connect_timeout = 1s;
  auto locator = std::make_shared<SentinelLocator>(io_.executor(0), std::move(o), log_);
  locator->Start();
  ASSERT_TRUE(WaitFor([&] { return locator->auth_failed(); })) << locator->last_error();
  EXPECT_FALSE(locator->Current().has_value());
  EXPECT_NE(locator->last_error().find("authentication failed"), std::string::npos)
      << locator->last_error();
  locator->Stop();
}

TEST_F(SentinelTest, TheHandshakeRefusesAReplica) {
  const int primary = deployment_.PrimaryIndex();
  ASSERT_GE(primary, 0);
  const std::size_t replica = (static_cast<std::size_t>(primary) + 1) % 3;
  RedisOptions o = deployment_.DataNodeOptions(replica);
  o.require_primary = true;
  o.pool_size = 1;
  o.connect_timeout = 1s;
  RedisClient client(io_.executors(), o, log_);
  client.Start();
  ASSERT_TRUE(WaitFor([&] { return !client.last_error().empty(); }));
  EXPECT_NE(client.last_error().find("is not the primary (ROLE: slave)"), std::string::npos)
      << client.last_error();
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(client.connected());
  client.Stop();

  // The same options aimed at the primary connect.
  RedisOptions p = deployment_.DataNodeOptions(static_cast<std::size_t>(primary));
  p.require_primary = true;
  p.pool_size = 1;
  RedisClient good(io_.executors(), p, log_);
  good.Start();
  EXPECT_TRUE(WaitFor([&] { return good.connected(); })) << good.last_error();
  good.Stop();
}

TEST_F(SentinelTest, FollowsAFailoverAfterThePrimaryIsKilled) {
  auto locator = MakeLocator();
  RedisClient client(io_.executors(), ClientOptions(locator), log_);
  client.Start();
  ReceivedMessages received;
  RedisSubscriber::Handlers h;
  received.Attach(h);
  RedisSubscriber subscriber(io_.executor(1), ClientOptions(locator), "kc:sentinel:channel", h,
                             log_);
  subscriber.Start();
  ASSERT_TRUE(WaitFor([&] { return client.connected_count() == 4 && subscriber.subscribed(); }))
      << client.last_error() << subscriber.last_error();
  ASSERT_TRUE(SetUntilOk(client, "before", 5s));

  const auto killed_at = Clock::now();
  const int old_primary = deployment_.KillPrimary();
  ASSERT_GE(old_primary, 0);
  int promoted = -1;
  ASSERT_TRUE(deployment_.WaitForPromotion(old_primary, 30s, &promoted));
  const auto promoted_at = Clock::now();

  const auto first_ok = SetUntilOk(client, "after", 30s);
  ASSERT_TRUE(first_ok) << client.last_error() << "\n" << deployment_.Logs();
  // One change of primary, or two when Sentinel needed a second election (PrimaryChanges).
  EXPECT_GE(locator->failovers(), 1u);
  EXPECT_TRUE(SentinelsLoggedAtLeast(locator->failovers()))
      << locator->failovers() << " vs " << deployment_.PrimaryChanges();
  promoted = deployment_.PrimaryIndex();
  ASSERT_GE(promoted, 0);
  EXPECT_EQ(locator->Current()->port, deployment_.data_node(promoted).port());
  auto got = RedisCommand(deployment_.data_node(promoted), {"GET", "kc:sentinel"});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->str, "after");
  // The subscriber moved too: a message published on the new primary arrives.
  ASSERT_TRUE(
      WaitFor([&] { return received.subscriptions() >= 2 && subscriber.subscribed(); }, 10s))
      << subscriber.last_error();
  ASSERT_TRUE(WaitFor([&] { return client.connected_count() == 4; }, 10s));
  EXPECT_EQ(OurClientsOn(promoted), 4 + 1);  // the pool and the subscriber
  auto published = RedisCommand(deployment_.data_node(promoted),
                                {"PUBLISH", "kc:sentinel:channel", "on the new primary"});
  ASSERT_TRUE(published);
  EXPECT_EQ(published->integer, 1);
  EXPECT_TRUE(WaitFor([&] {
    const std::vector<std::string> messages = received.messages();
    return !messages.empty() && messages.back() == "on the new primary";
  }));
  std::printf(
      "[ measured ] kill -> promotion %.2f s, kill -> first SET on the new primary %.2f s\n",
      std::chrono::duration<double>(promoted_at - killed_at).count(),
      std::chrono::duration<double>(*first_ok - killed_at).count());
  subscriber.Stop();
  client.Stop();
  locator->Stop();
}

TEST_F(SentinelTest, LeavesADemotedPrimaryThatStaysUp) {
  auto locator = MakeLocator();
  RedisClient client(io_.executors(), ClientOptions(locator), log_);
  client.Start();
  ASSERT_TRUE(WaitFor([&] { return client.connected_count() == 4; })) << client.last_error();
  const int old_primary = deployment_.PrimaryIndex();
  ASSERT_GE(old_primary, 0);
  ASSERT_EQ(OurClientsOn(old_primary), 4);

  auto failover = RedisCommand(deployment_.sentinel(0),
                               {"SENTINEL", "FAILOVER", deployment_.options().master_name});
  ASSERT_TRUE(failover);
  ASSERT_TRUE(failover->is_ok()) << failover->str;
  int promoted = -1;
  ASSERT_TRUE(deployment_.WaitForPromotion(old_primary, 30s, &promoted));
  ASSERT_TRUE(SetUntilOk(client, "moved", 30s)) << client.last_error();
  ASSERT_TRUE(WaitFor([&] { return locator->failovers() >= 1; }));
  EXPECT_TRUE(SentinelsLoggedAtLeast(locator->failovers()))
      << locator->failovers() << " vs " << deployment_.PrimaryChanges();
  promoted = deployment_.PrimaryIndex();
  ASSERT_GE(promoted, 0);
  // Every pooled connection left the old primary (now a replica, still running) for the new.
  EXPECT_TRUE(WaitFor([&] { return OurClientsOn(promoted) == 4; }, 10s)) << OurClientsOn(promoted);
  EXPECT_EQ(OurClientsOn(old_primary), 0);
  client.Stop();
  locator->Stop();
}

}  // namespace
}  // namespace keycache::testing
