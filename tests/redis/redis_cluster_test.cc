// RedisClusterClient (and RedisSubscriber's node rotation) against a real six-node Redis Cluster
// (tests/support/redis_cluster_deployment.h): routing to every primary, MOVED after a reshard,
// ASK during a migration, SCAN on every primary, Pub/Sub across shards, order across nodes, and
// a primary's failover; on TLS-only nodes (client certificates required), the slot map's TLS
// ports, MOVED to them and Pub/Sub over TLS. Each test builds its own cluster (~3 s).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "redis/cluster_slots.h"
#include "redis/redis_cluster_client.h"
#include "redis/redis_subscriber.h"
#include "redis/redis_test_util.h"
#include "support/redis_cluster_deployment.h"
#include "support/test_certs.h"

namespace keycache::testing {
namespace {

using Clock = std::chrono::steady_clock;

Result<std::vector<RedisReply>> Exec(RedisCommands& client, boost::asio::any_io_executor ex,
                                     RedisRequest request) {
  auto future =
      boost::asio::co_spawn(ex, client.Execute(std::move(request)), boost::asio::use_future);
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "Execute did not complete within 30 s";
    return Errc::kTimeout;
  }
  return future.get();
}

Result<std::vector<RedisReply>> RunOn(RedisCommands& client, boost::asio::any_io_executor ex,
                                      std::string shard, RedisRequest request) {
  auto future = boost::asio::co_spawn(
      ex, client.ExecuteOnShard(std::move(shard), std::move(request)), boost::asio::use_future);
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "ExecuteOnShard did not complete within 30 s";
    return Errc::kTimeout;
  }
  return future.get();
}

std::string Key(int i) { return "kc:test:" + std::to_string(i); }

class RedisClusterTest : public ::testing::Test {
 protected:
  RedisClusterTest() = default;
  explicit RedisClusterTest(RedisClusterDeploymentOptions o) : cluster_(std::move(o)) {}
  void SetUp() override { ASSERT_TRUE(cluster_.Start()); }

  std::unique_ptr<RedisClusterClient> Connected(RedisClusterOptions o) {
    o.on_primaries_changed = [this](const std::string&) { ++topology_changes_; };
    auto c = std::make_unique<RedisClusterClient>(io_.executors(), std::move(o), log_);
    c->Start();
    EXPECT_TRUE(WaitFor([&] { return c->connected(); }, std::chrono::seconds(20)))
        << c->last_error();
    return c;
  }
  std::unique_ptr<RedisClusterClient> Connected() { return Connected(cluster_.ClientOptions()); }

  // SETs keys [0, n) with value "v<i>" in one pipeline; every reply OK.
  void Fill(RedisCommands& c, int n) {
    RedisRequest r;
    for (int i = 0; i < n; ++i) r.Push({"SET", Key(i), "v" + std::to_string(i)});
    auto replies = Exec(c, io_.executor(0), std::move(r));
    ASSERT_TRUE(replies);
    ASSERT_EQ(replies->size(), static_cast<std::size_t>(n));
    for (const auto& reply : *replies) ASSERT_TRUE(reply.is_ok()) << reply.str;
  }
  // GETs keys [0, n) in one pipeline and checks every value, in order.
  ::testing::AssertionResult ReadsBack(RedisCommands& c, int n) {
    RedisRequest r;
    for (int i = 0; i < n; ++i) r.Push({"GET", Key(i)});
    auto replies = Exec(c, io_.executor(1), std::move(r));
    if (!replies) return ::testing::AssertionFailure() << replies.error().message();
    if (replies->size() != static_cast<std::size_t>(n)) {
      return ::testing::AssertionFailure() << replies->size() << " replies";
    }
    for (int i = 0; i < n; ++i) {
      const RedisReply& reply = (*replies)[static_cast<std::size_t>(i)];
      if (reply.str != "v" + std::to_string(i)) {
        return ::testing::AssertionFailure() << Key(i) << ": " << reply.str;
      }
    }
    return ::testing::AssertionSuccess();
  }
  // DBSIZE of each primary.
  std::map<std::string, long long> Sizes(RedisClusterClient& c) {
    std::map<std::string, long long> out;
    for (const auto& shard : c.Shards()) {
      auto r = RunOn(c, io_.executor(0), shard, Cmd({"DBSIZE"}));
      out[shard] = r && r->size() == 1 ? (*r)[0].integer : -1;
    }
    return out;
  }

  // Keys written, then 2000 slots resharded: the first reads follow MOVED, the map is read
  // again, every key reads back.
  void FollowsMovedAfterAReshard() {
    RedisClusterOptions o = cluster_.ClientOptions();
    // No periodic refresh during the reshard: the map is stale until a MOVED says otherwise.
    o.refresh_interval = std::chrono::hours(1);
    auto c = Connected(std::move(o));
    Fill(*c, 400);
    const auto primaries = cluster_.Primaries();
    ASSERT_EQ(primaries.size(), 3u);
    const std::uint64_t refreshes = c->map_refreshes();
    // The client's map still says the old owner: the first reads get MOVED.
    ASSERT_TRUE(cluster_.Reshard(primaries[0], primaries[1], 2000));
    EXPECT_EQ(c->map_refreshes(), refreshes);
    EXPECT_TRUE(ReadsBack(*c, 400));
    EXPECT_TRUE(WaitFor([&] { return c->map_refreshes() > refreshes; })) << "no MOVED seen";
    EXPECT_TRUE(ReadsBack(*c, 400));
    EXPECT_EQ(topology_changes_.load(), 0);  // the same three primaries
    long long total = 0;
    for (const auto& [shard, n] : Sizes(*c)) total += n;
    EXPECT_EQ(total, 400);
  }
  // A subscriber on a node of another shard than the channel's gets what is published.
  void PubSubReachesAnotherShard() {
    auto c = Connected();
    const std::string channel = "kc:invalidations";
    const auto publisher_node = cluster_.PrimaryOf(KeySlot(channel));
    ASSERT_TRUE(publisher_node);
    // Subscribe on a replica of another shard: the cluster bus carries the message there.
    int other = -1;
    for (int i = 0; i < cluster_.size(); ++i) {
      if (i != *publisher_node) other = i;
    }
    ReceivedMessages received;
    RedisSubscriber::Handlers h;
    received.Attach(h);
    const RedisEndpoint there = cluster_.endpoint(other);
    h.nodes = [there] { return std::vector<RedisEndpoint>{there}; };
    RedisOptions o = cluster_.ClientOptions().node;
    RedisSubscriber sub(io_.executor(0), o, channel, std::move(h), log_);
    sub.Start();
    ASSERT_TRUE(WaitFor([&] { return received.subscriptions() > 0; }));
    auto r = Exec(*c, io_.executor(1), Cmd({"PUBLISH", channel, "hello"}));
    ASSERT_TRUE(r);
    EXPECT_TRUE(WaitFor([&] { return received.messages() == std::vector<std::string>{"hello"}; }));
    sub.Stop();
  }

  Logger log_{LogLevel::kOff};
  IoThreads io_{2};
  RedisClusterDeployment cluster_;
  std::atomic<int> topology_changes_{0};
};

// One test PKI for the binary.
const TestPki& Pki() {
  static TempDir dir;
  static const TestPki pki = MakeTestPki(dir.path());
  return pki;
}

// TLS-only nodes: no plaintext port at all, the bus and replication over TLS too.
class RedisClusterTlsTest : public RedisClusterTest {
 protected:
  RedisClusterTlsTest()
      : RedisClusterTest({.tls = RedisClusterDeploymentOptions::TlsFrom(Pki())}) {}
  void SetUp() override {
    ASSERT_TRUE(Pki().ok) << Pki().error;
    RedisClusterTest::SetUp();
  }
};

TEST_F(RedisClusterTest, RoutesEachKeyToItsSlotsPrimaryAcrossAllThree) {
  auto c = Connected();
  EXPECT_EQ(c->Shards().size(), 3u);
  Fill(*c, 300);
  EXPECT_TRUE(ReadsBack(*c, 300));
  const auto sizes = Sizes(*c);
  long long total = 0;
  for (const auto& [shard, n] : sizes) {
    EXPECT_GT(n, 0) << shard;
    total += n;
  }
  EXPECT_EQ(total, 300);
  // Our slot computation agrees with the server's, hash tags included.
  for (std::string k : {"foo", "{user1000}.following", "cache:apikeys:v:{kid_42}", "a{b}c{d}"}) {
    auto r = Exec(*c, io_.executor(0), Cmd({"CLUSTER", "KEYSLOT", k}));
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)[0].integer, KeySlot(k)) << k;
  }
  // A key on each primary, checked on the node itself.
  const auto primary = cluster_.PrimaryOf(KeySlot(Key(7)));
  ASSERT_TRUE(primary);
  EXPECT_EQ(cluster_.Cli(*primary, "GET " + Key(7)), "v7\n");
}

TEST_F(RedisClusterTest, PreservesOrderAndRunsKeylessCommandsAfterEverythingBefore) {
  auto c = Connected();
  // Keys on different primaries, then a PUBLISH, then reads: each reply in its place.
  std::string a = "order:{a}", b;
  for (int i = 0; b.empty(); ++i) {
    const std::string k = "order:{" + std::to_string(i) + "}";
    if (cluster_.PrimaryOf(KeySlot(k)) != cluster_.PrimaryOf(KeySlot(a))) b = k;
  }
  RedisRequest r;
  r.Push({"SET", a, "1"});
  r.Push({"INCR", b});
  r.Push({"INCR", a});
  r.Push({"PUBLISH", "kc:order", "x"});
  r.Push({"GET", a});
  r.Push({"GET", b});
  r.Push({"PING"});
  auto replies = Exec(*c, io_.executor(0), std::move(r));
  ASSERT_TRUE(replies);
  ASSERT_EQ(replies->size(), 7u);
  EXPECT_TRUE((*replies)[0].is_ok());
  EXPECT_EQ((*replies)[1].integer, 1);
  EXPECT_EQ((*replies)[2].integer, 2);
  EXPECT_TRUE((*replies)[3].is_integer());
  EXPECT_EQ((*replies)[4].str, "2");
  EXPECT_EQ((*replies)[5].str, "1");
  EXPECT_EQ((*replies)[6].str, "PONG");
  // WAIT goes with the write before it: the primary's replica acknowledges it.
  RedisRequest w;
  w.Push({"SET", b, "2"});
  w.Push({"WAIT", "1", "1000"});
  auto waited = Exec(*c, io_.executor(0), std::move(w));
  ASSERT_TRUE(waited);
  EXPECT_EQ((*waited)[1].integer, 1);
}

TEST_F(RedisClusterTest, FollowsMovedAfterAReshardAndRefreshesItsMap) {
  FollowsMovedAfterAReshard();
}

TEST_F(RedisClusterTest, FollowsAskDuringAMigration) {
  auto c = Connected();
  const std::string key = "ask:{migrating}";
  const int slot = KeySlot(key);
  const auto source = cluster_.PrimaryOf(slot);
  ASSERT_TRUE(source);
  int target = -1;
  for (int p : cluster_.Primaries()) {
    if (p != *source) target = p;
  }
  ASSERT_GE(target, 0);
  auto id = [&](int i) {
    std::string s = cluster_.Cli(i, "CLUSTER MYID");
    return s.substr(0, s.find('\n'));
  };
  ASSERT_EQ(
      cluster_.Cli(target, "CLUSTER SETSLOT " + std::to_string(slot) + " IMPORTING " + id(*source)),
      "OK\n");
  ASSERT_EQ(
      cluster_.Cli(*source, "CLUSTER SETSLOT " + std::to_string(slot) + " MIGRATING " + id(target)),
      "OK\n");
  // The key is not on the source: the source answers ASK, the client asks the target.
  auto set = Exec(*c, io_.executor(0), Cmd({"SET", key, "moved-in"}));
  ASSERT_TRUE(set);
  EXPECT_TRUE((*set)[0].is_ok()) << (*set)[0].str;
  auto get = Exec(*c, io_.executor(1), Cmd({"GET", key}));
  ASSERT_TRUE(get);
  EXPECT_EQ((*get)[0].str, "moved-in");
  // It was written on the target, and the slot's owner did not change in the client's view.
  EXPECT_EQ(cluster_.Cli(target, "CLUSTER COUNTKEYSINSLOT " + std::to_string(slot)), "1\n");
  EXPECT_EQ(cluster_.Cli(*source, "CLUSTER COUNTKEYSINSLOT " + std::to_string(slot)), "0\n");
  // Finish the migration by hand; then the client follows the MOVED.
  for (int i : cluster_.Primaries()) {
    cluster_.Cli(i, "CLUSTER SETSLOT " + std::to_string(slot) + " NODE " + id(target));
  }
  auto after = Exec(*c, io_.executor(1), Cmd({"GET", key}));
  ASSERT_TRUE(after);
  EXPECT_EQ((*after)[0].str, "moved-in");
}

TEST_F(RedisClusterTest, ScansEveryPrimary) {
  auto c = Connected();
  Fill(*c, 250);
  std::set<std::string> seen;
  for (const auto& shard : c->Shards()) {
    std::string cursor = "0";
    do {
      auto r = RunOn(*c, io_.executor(0), shard,
                     Cmd({"SCAN", cursor, "MATCH", "kc:test:*", "COUNT", "100"}));
      ASSERT_TRUE(r);
      ASSERT_TRUE((*r)[0].is_array());
      cursor = (*r)[0].elements[0].str;
      for (const auto& k : (*r)[0].elements[1].elements) seen.insert(k.str);
    } while (cursor != "0");
  }
  EXPECT_EQ(seen.size(), 250u);
}

TEST_F(RedisClusterTest, PubSubReachesASubscriberOnAnotherShard) { PubSubReachesAnotherShard(); }

TEST_F(RedisClusterTest, SubscriberMovesToAnotherNodeWhenItsNodeDies) {
  std::atomic<int> subscribed{0}, lost{0};
  RedisSubscriber::Handlers h;
  h.on_message = [](std::string_view) {};
  h.on_subscribed = [&] { ++subscribed; };
  h.on_disconnected = [&] { ++lost; };
  const auto nodes = cluster_.Seeds();
  h.nodes = [nodes] { return nodes; };
  RedisOptions o = cluster_.ClientOptions().node;
  RedisSubscriber sub(io_.executor(0), o, "kc:ch", std::move(h), log_,
                      std::chrono::milliseconds(100));
  sub.Start();
  ASSERT_TRUE(WaitFor([&] { return subscribed.load() == 1; }));
  cluster_.node(0).Kill();  // the first in the list: where it went first
  EXPECT_TRUE(WaitFor([&] { return lost.load() == 1 && subscribed.load() == 2; }));
  EXPECT_TRUE(sub.subscribed());
  sub.Stop();
}

TEST_F(RedisClusterTest, FollowsAFailover) {
  auto c = Connected();
  Fill(*c, 200);
  // Replicated before the kill (WAIT on each primary through a keyed write).
  const std::string victim_key = Key(0);
  const auto victim = cluster_.PrimaryOf(KeySlot(victim_key));
  ASSERT_TRUE(victim);
  for (int i = 0; i < 200; ++i) {
    RedisRequest w;
    w.Push({"GET", Key(i)});
    w.Push({"WAIT", "1", "1000"});
    auto r = Exec(*c, io_.executor(0), std::move(w));
    ASSERT_TRUE(r);
  }
  const auto killed_at = Clock::now();
  ASSERT_TRUE(cluster_.KillPrimaryAndWaitFailover(*victim, std::chrono::seconds(30)));
  const auto promoted_at = Clock::now();
  // The client follows: every key readable again (from the promoted replica).
  Clock::time_point first_ok{};
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = Exec(*c, io_.executor(0), Cmd({"GET", victim_key}));
        if (r && (*r)[0].str == "v0") {
          first_ok = Clock::now();
          return true;
        }
        return false;
      },
      std::chrono::seconds(20)));
  EXPECT_TRUE(ReadsBack(*c, 200));
  EXPECT_TRUE(WaitFor([&] { return topology_changes_.load() >= 1; }));
  EXPECT_TRUE(WaitFor([&] { return c->connected(); }));
  std::printf(
      "[ measured ] failover: promotion %.0f ms after the kill; client served the key "
      "%.0f ms after the kill\n",
      std::chrono::duration<double, std::milli>(promoted_at - killed_at).count(),
      std::chrono::duration<double, std::milli>(first_ok - killed_at).count());
}

TEST_F(RedisClusterTest, WrongPasswordIsAnAuthFailure) {
  RedisClusterOptions o = cluster_.ClientOptions();
  o.node.password = "wrong";
  RedisClusterClient c(io_.executors(), o, log_);
  c.Start();
  EXPECT_TRUE(WaitFor([&] { return c.auth_failed(); }));
  EXPECT_NE(c.last_error().find("authentication"), std::string::npos) << c.last_error();
  EXPECT_FALSE(c.connected());
  auto r = Exec(c, io_.executor(0), Cmd({"GET", "x"}));
  EXPECT_FALSE(r);
}

// The map holds the nodes' TLS ports (CLUSTER SHARDS' tls-port: there is no other port), MOVED
// names the new owner's TLS port, and the client follows it over TLS.
TEST_F(RedisClusterTlsTest, ReadsTheTlsPortsAndFollowsMovedToThem) {
  {
    auto c = Connected();
    ASSERT_EQ(c->Shards().size(), 3u);
    for (const auto& shard : c->Shards()) {
      const auto e = ParseEndpoint(shard);
      ASSERT_TRUE(e) << shard;
      EXPECT_GE(cluster_.IndexOf(*e), 0) << shard << " is not a node's TLS port";
    }
  }
  FollowsMovedAfterAReshard();
}

TEST_F(RedisClusterTlsTest, PubSubOverTlsReachesASubscriberOnAnotherShard) {
  PubSubReachesAnotherShard();
}

}  // namespace
}  // namespace keycache::testing
