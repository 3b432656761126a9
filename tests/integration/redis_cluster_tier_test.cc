// keycached on a real Redis Cluster (three primaries, three replicas): three instances sharing the
// cluster and one SQLite database. The L2 and invalidations across instances with keys on every
// primary, SCAN-based type-wide invalidation and entry counts over all primaries, a start-up with
// a wrong password, and a primary's failover (the service keeps answering, from the database while
// the tier is away, and the lease is revoked and regained with L1 flushed). On TLS-only nodes as
// the shipped service user: a wrong password stops start-up there too, a missing client
// certificate is named, and the right settings serve.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "integration/redis_tier_util.h"
#include "redis/cluster_slots.h"
#include "support/redis_cluster_deployment.h"
#include "support/redis_config_rewrite.h"
#include "support/test_certs.h"

namespace keycache::testing {
namespace {

using Clock = std::chrono::steady_clock;

// The environment of an instance of `cluster` (two seeds: the client learns the rest from the
// slot map) as its default user, with its database in `shared`.
EnvVars ClusterEnv(const RedisClusterDeployment& cluster, const TempDir& shared) {
  EnvVars env;
  env["REDIS_CLUSTER_ENABLED"] = "true";
  env["REDIS_CLUSTER_NODES"] =
      cluster.endpoint(0).ToString() + "," + cluster.endpoint(1).ToString();
  env["REDIS_PASSWORD"] = kClusterPassword;
  env["REDIS_POOL_SIZE"] = "2";
  env["REDIS_COMMAND_TIMEOUT"] = "1s";
  env["REDIS_CONNECT_TIMEOUT"] = "1s";
  env["REDIS_KEY_PREFIX"] = "it:apikeys:";
  env["KEYCACHE_PEPPER"] = kSharedPepper;
  env["ADMIN_TOKEN"] = kSharedToken;
  env["DATABASE_URL"] = "sqlite:" + (shared.path() / "keycache.db").string();
  env["KEYCACHE_USAGE_FLUSH_INTERVAL"] = "100ms";
  env["CACHE_HEALTH_CHECK_INTERVAL"] = "1";  // the SCAN entry counts too
  return env;
}

class RedisClusterTier : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.Start());
    for (const char* id : {"node-a", "node-b", "node-c"}) {
      instances_.push_back(AddInstance({{"KEYCACHE_INSTANCE_ID", id}}));
      ASSERT_NE(instances_.back(), nullptr);
      apis_.push_back(SharedRedisDeployment::Client(*instances_.back()));
    }
    for (auto& api : apis_) ASSERT_TRUE(WaitCoherent(*api, std::chrono::seconds(30)));
  }
  void TearDown() override {
    for (auto* p : instances_) {
      if (p) ExpectCleanStop(*p);
    }
  }

  EnvVars Env() const { return ClusterEnv(cluster_, shared_); }
  KeycachedProcess* AddInstance(const EnvVars& extra) {
    EnvVars env = Env();
    for (const auto& [k, v] : extra) env[k] = v;
    owned_.push_back(std::make_unique<KeycachedProcess>(KeycachedOptions{env, std::nullopt}));
    const ::testing::AssertionResult started = owned_.back()->Start();
    EXPECT_TRUE(started) << started.message();
    return started ? owned_.back().get() : nullptr;
  }
  ApiClient& Api(int i) { return *apis_[static_cast<std::size_t>(i)]; }

  RedisClusterDeployment cluster_;
  TempDir shared_;
  std::vector<std::unique_ptr<KeycachedProcess>> owned_;
  std::vector<KeycachedProcess*> instances_;
  std::vector<std::unique_ptr<ApiClient>> apis_;
};

TEST_F(RedisClusterTier, SharesTheL2AndInvalidationsAcrossInstancesOnEveryPrimary) {
  // Enough keys that every primary holds some entries.
  std::vector<CreatedKey> keys;
  std::map<int, int> per_primary;
  while (keys.size() < 12 || per_primary.size() < 3) {
    ASSERT_LT(keys.size(), 100u) << "the keys never reached all three primaries";
    keys.push_back(CreateKey(Api(0), UniqueOwner("cl")));
    const auto p = cluster_.PrimaryOf(KeySlot("it:apikeys:v:{" + keys.back().id + "}"));
    ASSERT_TRUE(p);
    ++per_primary[*p];
  }
  const double n = static_cast<double>(keys.size());
  for (const auto& k : keys) ASSERT_EQ(Verify(Api(0), k.key).Str("code"), "VALID");
  ASSERT_TRUE(PollUntil([&] {
    return MetricValue(Api(0),
                       "keycache_l2_operations_total{operation=\"write_validation\","
                       "result=\"ok\"}") >= n;
  }));
  // B's L1 is empty: every hit comes from the cluster.
  for (const auto& k : keys) {
    const Reply r = Verify(Api(1), k.key);
    EXPECT_EQ(r.Str("code"), "VALID");
    EXPECT_EQ(r.Header("X-Cache-Status"), "HIT") << k.id;
  }
  // C caches them in L1; revocations on A reach C (the fence on the key's primary, the message
  // over the cluster bus).
  for (const auto& k : keys) ASSERT_EQ(Verify(Api(2), k.key).Str("code"), "VALID");
  for (int i = 0; i < 4; ++i) {
    const Reply revoked = Api(0).Admin(
        http::verb::post, "/v1/keys/" + keys[static_cast<std::size_t>(i)].id + "/revoke", "{}");
    ASSERT_EQ(revoked.status, 200u) << revoked.Describe();
  }
  for (int i = 0; i < 4; ++i) {
    std::string last;
    EXPECT_TRUE(PollUntil(
        [&] {
          return (last = Verify(Api(2), keys[static_cast<std::size_t>(i)].key).Str("code")) ==
                 "REVOKED";
        },
        std::chrono::seconds(5), std::chrono::milliseconds(5)))
        << "C still says " << last;
    EXPECT_EQ(Verify(Api(1), keys[static_cast<std::size_t>(i)].key).Str("code"), "REVOKED");
  }
  // Entry counts (SCAN) walk every primary.
  ASSERT_TRUE(PollUntil(
      [&] {
        const boost::json::value h = RedisHealth(Api(1));
        const auto* v = Member(h, {"entries", "validation"});
        return v && v->is_number() && v->to_number<double>() >= n;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(200)))
      << boost::json::serialize(RedisHealth(Api(1)));
  // A type-wide invalidation UNLINKs on every primary: A reads the store again for every key.
  const Reply cleared =
      Api(1).Admin(http::verb::post, "/admin/cache/invalidate", R"({"type":"validation"})");
  ASSERT_EQ(cleared.status, 200u) << cleared.Describe();
  const double reads = MetricValue(Api(1), "keycache_store_reads_total");
  for (std::size_t i = 4; i < keys.size(); ++i) {
    EXPECT_EQ(Verify(Api(1), keys[i].key).Header("X-Cache-Status"), "MISS") << keys[i].id;
  }
  EXPECT_GE(MetricValue(Api(1), "keycache_store_reads_total"), reads + n - 4);
}

// keycached serve with `env` but a wrong REDIS_PASSWORD exits 2 at start-up, saying so.
void ExpectAWrongPasswordStopsStartUp(const EnvVars& env) {
  EnvVars wrong = DefaultServerEnv();
  for (const auto& [k, v] : env) wrong[k] = v;
  wrong["REDIS_PASSWORD"] = "not-the-password";
  TempDir dir;
  const RunResult r = RunKeycached({"serve"}, wrong, dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.err.find("Redis authentication failed"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("not-the-password"), std::string::npos) << "the password is never echoed";
}

TEST_F(RedisClusterTier, AWrongPasswordStopsStartUp) { ExpectAWrongPasswordStopsStartUp(Env()); }

TEST_F(RedisClusterTier, FollowsAPrimarysFailover) {
  const CreatedKey k = CreateKey(Api(0), UniqueOwner("fo"));
  ASSERT_EQ(Verify(Api(1), k.key).Str("code"), "VALID");
  const auto victim = cluster_.PrimaryOf(KeySlot("it:apikeys:v:{" + k.id + "}"));
  ASSERT_TRUE(victim);
  const auto killed_at = Clock::now();
  ASSERT_TRUE(cluster_.KillPrimaryAndWaitFailover(*victim, std::chrono::seconds(30)));
  // Verifications never fail: the database answers while the tier is away.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Verify(Api(1), k.key).Str("code"), "VALID");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(WaitCoherent(Api(i), std::chrono::seconds(30)));
  const double back_s = std::chrono::duration<double>(Clock::now() - killed_at).count();
  // Each instance saw the primaries change, revoked its lease (messages may have been lost with
  // the dead primary) and flushed L1 before renewing it.
  for (auto* p : instances_) {
    EXPECT_TRUE(PollUntil([&] {
      const std::string log = p->log();
      return log.find("redis_cluster_topology_changed") != std::string::npos &&
             log.find("coherence_lease_regained") != std::string::npos;
    })) << p->log();
  }
  // The node comes back as a replica: revocations are in force again (their WAIT is answered).
  ASSERT_TRUE(cluster_.RestartNode(*victim, std::chrono::seconds(30)));
  Reply revoked;
  ASSERT_TRUE(PollUntil(
      [&] {
        revoked = Api(2).Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", "{}");
        return revoked.status == 200u;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(200)))
      << revoked.Describe();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(PollUntil([&] { return Verify(Api(i), k.key).Str("code") == "REVOKED"; },
                          std::chrono::seconds(5), std::chrono::milliseconds(5)));
  }
  std::printf("[ measured ] every instance coherent again %.1f s after the primary was killed\n",
              back_s);
}

// TLS-only nodes (bus and replication too, client certificates required), the instance as the
// shipped service user (deploy/redis/users.acl's rules, a test password).
TEST(RedisClusterTierOverTls, AWrongPasswordStopsStartUpAMissingClientCertificateIsNamed) {
  TempDir certs;
  const TestPki pki = MakeTestPki(certs.path());
  ASSERT_TRUE(pki.ok) << pki.error;
  const std::string password = "it-service-pass-0123456789";
  RedisClusterDeploymentOptions o;
  o.tls = RedisClusterDeploymentOptions::TlsFrom(pki);
  o.users.push_back(
      {"keycache", password,
       AclRules(ReadTextFile(KEYCACHE_SOURCE_DIR "/deploy/redis/users.acl"), "keycache")});
  ASSERT_FALSE(o.users[0].rules.empty());
  RedisClusterDeployment cluster(o);
  ASSERT_TRUE(cluster.Start());
  TempDir shared;
  EnvVars env = ClusterEnv(cluster, shared);
  env["REDIS_KEY_PREFIX"] = "cache:apikeys:";  // what the user's rules allow
  env["REDIS_USERNAME"] = "keycache";
  env["REDIS_TLS_CA"] = pki.ca_cert;
  env["REDIS_TLS_CERT"] = pki.client_cert;
  env["REDIS_TLS_KEY"] = pki.client_key;

  // A wrong password: refused after the TLS handshake, as on plaintext.
  ExpectAWrongPasswordStopsStartUp(env);
  env["REDIS_PASSWORD"] = password;

  // No client certificate: not fatal (docs/configuration.md: the service starts degraded), and
  // the tier's error says TLS and what the server wants.
  {
    EnvVars no_cert = env;
    no_cert["REDIS_TLS_CERT"] = "";  // unset
    no_cert["REDIS_TLS_KEY"] = "";
    KeycachedProcess p(KeycachedOptions{no_cert, std::nullopt});
    ASSERT_TRUE(p.Start()) << "a TLS failure is not fatal: the service runs without Redis";
    ApiClient api(p.port(), kSharedToken);
    std::string error;
    EXPECT_TRUE(PollUntil([&] {
      const auto h = RedisHealth(api);
      const auto* e = Member(h, {"lastError"});
      error = e && e->is_string() ? std::string(e->as_string()) : boost::json::serialize(h);
      return error.find("TLS") != std::string::npos;
    })) << error;
    // "tlsv13 alert certificate required", or "... does it require a client certificate?"
    EXPECT_NE(error.find("certificate"), std::string::npos) << error;
    EXPECT_FALSE(Coherent(api));
    const CreatedKey k = CreateKey(api, UniqueOwner("tls-nocert"));
    EXPECT_EQ(Verify(api, k.key).Str("code"), "VALID");  // from the database
    ExpectCleanStop(p);
  }

  // The right settings: coherent, keys cached in the cluster.
  KeycachedProcess p(KeycachedOptions{env, std::nullopt});
  ASSERT_TRUE(p.Start());
  ApiClient api(p.port(), kSharedToken);
  ASSERT_TRUE(WaitCoherent(api, std::chrono::seconds(30)));
  const CreatedKey k = CreateKey(api, UniqueOwner("tls-ok"));
  EXPECT_EQ(Verify(api, k.key).Str("code"), "VALID");
  const std::string entry = "cache:apikeys:v:{" + k.id + "}";
  const auto primary = cluster.PrimaryOf(KeySlot(entry));
  ASSERT_TRUE(primary);
  EXPECT_TRUE(PollUntil([&] { return cluster.Cli(*primary, "EXISTS " + entry) == "1\n"; }))
      << "the entry is written on its slot's primary, over TLS";
  ExpectCleanStop(p);
}

}  // namespace
}  // namespace keycache::testing
