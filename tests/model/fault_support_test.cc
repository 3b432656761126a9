// The fault-injection helpers of tests/support/ against the real programs: namespaces and
// silent cuts (netns.h), Redis faults (redis_faults.h), a write-locked database
// (sqlite_lock.h). Each proves that the fault does what the model test relies on.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "integration/redis_tier_util.h"
#include "support/netns.h"
#include "support/redis_faults.h"
#include "support/sqlite_lock.h"

namespace keycache::testing {
namespace {

using namespace std::chrono_literals;

std::string Breaker(ApiClient& api) {
  const auto h = RedisHealth(api);
  const auto* b = Member(h, {"breaker"});
  return b && b->is_string() ? std::string(b->as_string()) : "";
}

std::string ReadLink(const std::string& path) {
  std::error_code ec;
  return std::filesystem::read_symlink(path, ec).string();
}

TEST(NetworkNamespaces, TheTestProcessHasANetworkOfItsOwn) {
  ASSERT_TRUE(NetworkIsolationError().empty()) << NetworkIsolationError();
  EXPECT_NE(ReadLink("/proc/self/ns/net"), ReadLink("/proc/1/ns/net"));
  // Only loopback, and it is up: a server on 127.0.0.1 works.
  RedisServerProcess redis;
  ASSERT_TRUE(redis.Start());
  auto pong = RedisCommand(redis, {"PING"});
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->str, "PONG");
}

TEST(NetworkNamespaces, ANamespaceAndItsVethPairAreRemovedWithTheObject) {
  std::string name;
  {
    NetworkNamespace ns;
    ASSERT_TRUE(ns.Create());
    name = ns.name();
    EXPECT_TRUE(std::filesystem::exists(ns.path()));
    const CommandResult addr = ns.Exec({"ip", "-4", "addr", "show"});
    EXPECT_NE(addr.output.find(ns.inner_address() + "/30"), std::string::npos) << addr.output;
    // The namespace reaches a server on the test's end of the pair.
    RedisServerOptions o;
    o.bind = {"127.0.0.1", ns.outer_address()};
    RedisServerProcess redis(o);
    ASSERT_TRUE(redis.Start());
    const CommandResult connect =
        ns.Exec({"bash", "-c",
                 "exec 3<>/dev/tcp/" + ns.outer_address() + "/" + std::to_string(redis.port())},
                3s);
    EXPECT_EQ(connect.exit_code, 0) << connect.output;
  }
  EXPECT_FALSE(std::filesystem::exists("/run/netns/" + name));
  const CommandResult links = RunCommand({"ip", "-o", "link", "show"});
  EXPECT_EQ(links.output.find("kc"), std::string::npos) << links.output;
}

TEST(NetworkNamespaces, StaleNamespacesOfDeadTestProcessesAreRemoved) {
  ASSERT_TRUE(NetworkIsolationError().empty()) << NetworkIsolationError();
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);  // a pid that no longer runs
  const std::string stale = "kc-" + std::to_string(child) + "-stale";
  ASSERT_EQ(RunCommand({"ip", "netns", "add", stale}).exit_code, 0);
  const std::string mine = "kc-" + std::to_string(::getpid()) + "-live";
  ASSERT_EQ(RunCommand({"ip", "netns", "add", mine}).exit_code, 0);
  RemoveStaleNamespaces();
  EXPECT_FALSE(std::filesystem::exists("/run/netns/" + stale));
  EXPECT_TRUE(std::filesystem::exists("/run/netns/" + mine)) << "a live process's namespace";
  RunCommand({"ip", "netns", "del", mine});
  RunCommand({"ip", "netns", "del", stale});
}

TEST(NetworkNamespaces, ASilentCutStopsRedisForTheInstanceButNotItsHttpPort) {
  NetworkNamespace ns;
  ASSERT_TRUE(ns.Create());
  RedisServerOptions o = SharedRedisDeployment::DefaultRedis();
  o.bind = {"127.0.0.1", ns.outer_address()};
  SharedRedisDeployment d(o);
  ASSERT_TRUE(d.StartRedis());
  const std::string port = std::to_string(d.redis().port());
  auto ping_from_ns = [&] {
    return ns.Exec({"redis-cli", "-h", ns.outer_address(), "-p", port, "-a", kRedisPassword,
                    "--no-auth-warning", "PING"},
                   2s);
  };
  ASSERT_NE(ping_from_ns().output.find("PONG"), std::string::npos) << ping_from_ns().output;

  KeycachedOptions options{d.InstanceEnv(), std::nullopt};
  options.netns = ns.path();
  options.address = ns.inner_address();
  options.env["HOST"] = ns.inner_address();
  options.env["REDIS_HOST"] = ns.outer_address();
  options.env["REDIS_COMMAND_TIMEOUT"] = "1s";
  KeycachedProcess instance(options);
  ASSERT_TRUE(instance.Start());
  ApiClient api(ns.inner_address(), instance.port(), kSharedToken);
  ASSERT_TRUE(PollUntil([&] { return Breaker(api) == "closed"; }, 15s));

  ASSERT_TRUE(ns.Cut(ns.outer_address(), d.redis().port()));
  const CommandResult cut = ping_from_ns();
  EXPECT_EQ(cut.output.find("PONG"), std::string::npos) << "Redis still reachable: " << cut.output;
  // The test itself still reaches Redis and the instance's HTTP port.
  auto pong = RedisCommand(d.redis(), {"PING"});
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->str, "PONG");
  EXPECT_EQ(api.Send(http::verb::get, "/health/live").status, 200u);
  // The instance notices the silent link by its own timeouts.
  EXPECT_TRUE(PollUntil([&] { return Breaker(api) == "open"; }, 20s))
      << boost::json::serialize(RedisHealth(api));

  ASSERT_TRUE(ns.Heal());
  EXPECT_NE(ping_from_ns().output.find("PONG"), std::string::npos);
  EXPECT_TRUE(PollUntil([&] { return Breaker(api) == "closed"; }, 20s))
      << boost::json::serialize(RedisHealth(api));
  ExpectCleanStop(instance);
}

class RedisFaultsTest : public ::testing::Test {
 protected:
  static RedisServerOptions Options() {
    RedisServerOptions o;
    o.password = "faults-pass";
    o.config_command = "CONFIG_faults_test_secret";
    o.more_users.push_back(RedisFaults::UserWithout("noincr", "noincr-pass", "incr"));
    o.more_users.push_back({"app", "app-pass", "~* &* +@all"});
    return o;
  }
  void SetUp() override { ASSERT_TRUE(server_.Start()); }

  Result<RedisReply> Do(const std::vector<std::string>& args) {
    return RedisCommand(server_, args);
  }

  RedisServerProcess server_{Options()};
  RedisFaults faults_{server_};
};

TEST_F(RedisFaultsTest, ReadOnlyRefusesWritesUntilWritableAgain) {
  ASSERT_TRUE(Do({"SET", "k", "v"})->is_ok());
  ASSERT_TRUE(faults_.MakeReadOnly());
  auto write = Do({"SET", "k", "w"});
  ASSERT_TRUE(write);
  EXPECT_EQ(ErrorPrefix(*write), "READONLY") << write->str;
  EXPECT_EQ(ErrorPrefix(*Do({"INCR", "g"})), "READONLY");
  EXPECT_EQ(Do({"GET", "k"})->str, "v") << "reads and the data stay";
  EXPECT_TRUE(Do({"PUBLISH", "ch", "m"})->is_integer()) << "PUBLISH still works on a replica";
  ASSERT_TRUE(faults_.MakeWritable());
  EXPECT_TRUE(Do({"SET", "k", "w"})->is_ok());
}

TEST_F(RedisFaultsTest, OomRefusesGrowingWritesUntilEnded) {
  ASSERT_TRUE(Do({"SET", "k", "v"})->is_ok());
  ASSERT_TRUE(faults_.StartOom());
  auto write = Do({"SET", "k2", "v"});
  ASSERT_TRUE(write);
  EXPECT_EQ(ErrorPrefix(*write), "OOM") << write->str;
  EXPECT_EQ(ErrorPrefix(*Do({"INCR", "g"})), "OOM");
  EXPECT_EQ(Do({"GET", "k"})->str, "v");
  ASSERT_TRUE(faults_.EndOom());
  EXPECT_TRUE(Do({"SET", "k2", "v"})->is_ok());
  auto policy = Do({server_.options().config_command, "GET", "maxmemory-policy"});
  ASSERT_TRUE(policy);
  ASSERT_EQ(policy->elements.size(), 2u);
  EXPECT_EQ(policy->elements[1].str, server_.options().maxmemory_policy);
  EXPECT_EQ(ErrorPrefix(*Do({"CONFIG", "GET", "maxmemory"})), "ERR") << "CONFIG stays hidden";
}

TEST_F(RedisFaultsTest, ClientKillClosesCommandOrSubscriberConnectionsByType) {
  RawRedis normal, subscriber;
  ASSERT_TRUE(normal.Connect(server_.port(), {}, "faults-pass"));
  ASSERT_TRUE(subscriber.Connect(server_.port(), {}, "faults-pass"));
  ASSERT_TRUE(subscriber.Send({"SUBSCRIBE", "ch"}));
  auto confirmed = subscriber.Read();
  ASSERT_TRUE(confirmed);
  ASSERT_TRUE(confirmed->is_array());

  long long killed = 0;
  ASSERT_TRUE(faults_.KillNormalClients(&killed));
  EXPECT_GE(killed, 1);
  EXPECT_TRUE(PollUntil([&] { return normal.ClosedByPeer(); }, 5s));
  EXPECT_FALSE(subscriber.ClosedByPeer()) << "a subscriber is not a normal client";

  ASSERT_TRUE(faults_.KillPubSubClients(&killed));
  EXPECT_EQ(killed, 1);
  EXPECT_TRUE(PollUntil([&] { return subscriber.ClosedByPeer(); }, 5s));
}

TEST_F(RedisFaultsTest, AUserWithoutIncrGetsNoPermAndDenyingWorksOnOpenConnections) {
  RawRedis limited;
  ASSERT_TRUE(limited.Connect(server_.port(), "noincr", "noincr-pass"));
  auto incr = limited.Command({"INCR", "g"});
  ASSERT_TRUE(incr);
  EXPECT_EQ(ErrorPrefix(*incr), "NOPERM") << incr->str;
  EXPECT_TRUE(limited.Command({"SET", "k", "v"})->is_ok());

  RawRedis app;
  ASSERT_TRUE(app.Connect(server_.port(), "app", "app-pass"));
  EXPECT_TRUE(app.Command({"INCR", "g"})->is_integer());
  ASSERT_TRUE(faults_.DenyCommand("app", "incr"));
  EXPECT_EQ(ErrorPrefix(*app.Command({"INCR", "g"})), "NOPERM");
  ASSERT_TRUE(faults_.AllowCommand("app", "incr"));
  EXPECT_TRUE(app.Command({"INCR", "g"})->is_integer());
}

TEST_F(RedisFaultsTest, PauseStallsAndResumeAnswersAgain) {
  server_.Pause();
  auto stalled = RedisCommand(server_, {"PING"}, 300ms);
  EXPECT_FALSE(stalled);
  server_.Resume();
  auto pong = RedisCommand(server_, {"PING"});
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->str, "PONG");
}

TEST(SqliteWriteLock, WritersWaitAndFailWhileReadersGoOn) {
  TempDir dir;
  KeycachedOptions options;
  options.env["ADMIN_TOKEN"] = kSharedToken;
  options.env["KEYCACHE_PEPPER"] = kSharedPepper;
  options.env["DATABASE_URL"] = "sqlite:" + (dir.path() / "k.db").string();
  options.env["KEYCACHE_DB_TIMEOUT"] = "1s";
  options.env["API_KEY_CACHE_ENABLED"] = "false";  // every verification reads the database
  KeycachedProcess server(options);
  ASSERT_TRUE(server.Start());
  ApiClient api(server.port(), kSharedToken);
  const CreatedKey k = CreateKey(api, UniqueOwner("lock"));

  SqliteWriteLock lock(dir.path() / "k.db");
  ASSERT_TRUE(lock.Acquire());
  SqliteWriteLock second(dir.path() / "k.db");
  EXPECT_FALSE(second.Acquire(100ms)) << "one writer at a time";
  const Reply read = Verify(api, k.key);
  EXPECT_EQ(read.Str("code"), "VALID") << "readers are not blocked (WAL): " << read.Describe();
  const Reply blocked = api.Admin(http::verb::post, "/v1/keys",
                                  R"({"owner_id":"lock-owner","name":"n","scopes":[]})");
  EXPECT_EQ(blocked.status, 503u) << blocked.Describe();
  // That write still waits for the lock on a database thread (SQLite's busy timeout outlasts
  // KEYCACHE_DB_TIMEOUT); reads run on their own connections beside it, not queued behind it.
  const Reply during = Verify(api, k.key);
  EXPECT_EQ(during.Str("code"), "VALID")
      << "a read queued behind a waiting write: " << during.Describe();

  lock.Release();
  EXPECT_FALSE(lock.held());
  const Reply after = api.Admin(http::verb::post, "/v1/keys",
                                R"({"owner_id":"lock-owner","name":"n","scopes":[]})");
  EXPECT_EQ(after.status, 201u) << after.Describe();
  ExpectCleanStop(server);
}

}  // namespace
}  // namespace keycache::testing
