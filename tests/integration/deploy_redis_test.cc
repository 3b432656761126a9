// The shipped Redis configurations (deploy/redis/) loaded by real redis-server / redis-sentinel
// processes — the harness rewrites only ports, paths, addresses and timings, marking each line it
// rewrote (support/redis_config_rewrite.h) — with keycached talking to them as the `keycache` ACL
// user of users.acl: standalone hardened, TLS, Sentinel (a failover happens), Cluster.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <sstream>

#include "integration/redis_tier_util.h"
#include "integration/script_runner.h"
#include "support/redis_cluster_deployment.h"
#include "support/redis_config_rewrite.h"
#include "support/redis_faults.h"
#include "support/sentinel_deployment.h"
#include "support/test_certs.h"

namespace keycache::testing {
namespace {

const std::string kDeployDir = KEYCACHE_SOURCE_DIR "/deploy/redis";

std::string Acl() { return ReadTextFile(kDeployDir + "/users.acl"); }

// A redis-server from deploy/redis/<file>; the harness's own clients log in as `default`.
RedisServerOptions Shipped(const std::string& file) {
  RedisServerOptions o;
  o.base_config = kDeployDir + "/" + file;
  o.password = AclPassword(Acl(), "default");
  o.extra_config = {"aclfile " + kDeployDir + "/users.acl"};
  return o;
}

// keycached as the service's ACL user, under the prefix the ACL allows.
EnvVars ServiceUser() {
  return {{"REDIS_USERNAME", "keycache"},
          {"REDIS_PASSWORD", AclPassword(Acl(), "keycache")},
          {"REDIS_KEY_PREFIX", "cache:apikeys:"}};
}

// ServiceUser() plus what a keycached of its own needs: a database in `dir`, the pepper, the
// admin token, small pools and short timeouts.
EnvVars StandaloneServiceEnv(const TempDir& dir) {
  EnvVars env = ServiceUser();
  env["REDIS_POOL_SIZE"] = "2";
  env["REDIS_CONNECT_TIMEOUT"] = "1s";
  env["REDIS_COMMAND_TIMEOUT"] = "1s";
  env["KEYCACHE_PEPPER"] = kSharedPepper;
  env["ADMIN_TOKEN"] = kSharedToken;
  env["DATABASE_URL"] = "sqlite:" + (dir.path() / "keycache.db").string();
  return env;
}

std::string ErrorOf(const Result<RedisReply>& r) {
  if (!r) return "transport: " + r.error().message();
  return r->is_error() ? r->str : "";
}

// Create, verify (store, then cache), revoke, refused: the whole path through this Redis.
void ExpectServes(ApiClient& api) {
  ASSERT_TRUE(WaitCoherent(api));
  const CreatedKey k = CreateKey(api, UniqueOwner("deploy"));
  ASSERT_EQ(Verify(api, k.key).Str("code"), "VALID");
  // Then from a cache. (Polled: the instance's own creation message, heard back from Redis after
  // the first answer, drops the entry it filled once more: see InvalidationListener.)
  Reply again;
  EXPECT_TRUE(PollUntil([&] {
    again = Verify(api, k.key);
    return again.Str("code") == "VALID" && again.Header("X-Cache-Status") == "HIT";
  })) << again.Describe();
  ASSERT_EQ(api.Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", "{}").status, 200u);
  EXPECT_EQ(Verify(api, k.key).Str("code"), "REVOKED");
  EXPECT_TRUE(WaitCoherent(api)) << "the ACL user lacks a command the service sends";
}

TEST(DeployRedisConfig, TheHarnessRewritesInPlaceAndMarksEveryLine) {
  const std::string text =
      "port 6379\nsentinel monitor mymaster 10.0.0.11 6379 2\n"
      "sentinel auth-pass mymaster pw\nport 0\nmaxmemory 4gb\n";
  const std::string out = RewriteRedisConfig(
      text, {"port 7001", "sentinel monitor mymaster 127.0.0.1 7001 2", "dir /tmp/x"});
  EXPECT_EQ(out,
            "# rewritten by the test harness: port 6379\nport 7001\n"
            "# rewritten by the test harness: sentinel monitor mymaster 10.0.0.11 6379 2\n"
            "sentinel monitor mymaster 127.0.0.1 7001 2\n"
            "sentinel auth-pass mymaster pw\n"
            "# superseded by the test harness: port 0\nmaxmemory 4gb\n"
            "\n# added by the test harness\ndir /tmp/x\n");
  EXPECT_EQ(DirectiveKey("sentinel rename-command mymaster CONFIG X"),
            "sentinel rename-command mymaster config");
  EXPECT_EQ(DirectiveKey("rename-command CONFIG X"), "rename-command config");
}

TEST(DeployRedisConfig, TheShippedFilesAgreeOnSecretsAndNeedEveryPlaceholderReplaced) {
  const std::string redis = ReadTextFile(kDeployDir + "/redis.conf");
  const std::string sentinel = ReadTextFile(kDeployDir + "/sentinel.conf");
  const std::string secret = DirectiveValue(redis, "rename-command config");
  ASSERT_FALSE(secret.empty());
  EXPECT_NE(secret, "\"\"") << "Sentinel cannot promote a replica with CONFIG disabled";
  EXPECT_EQ(DirectiveValue(sentinel, "sentinel rename-command mymaster config"), secret);
  EXPECT_EQ(DirectiveValue(sentinel, "sentinel auth-pass mymaster"), AclPassword(Acl(), "default"));
  EXPECT_EQ(DirectiveValue(redis, "masterauth"), AclPassword(Acl(), "default"));
  EXPECT_EQ(DirectiveValue(sentinel, "sentinel down-after-milliseconds mymaster"), "5000");
  EXPECT_EQ(DirectiveValue(redis, "maxmemory-policy"), "allkeys-lru");
  for (int i = 1; i <= 6; ++i) {
    const std::string node =
        ReadTextFile(kDeployDir + "/cluster/node-" + std::to_string(i) + ".conf");
    EXPECT_EQ(DirectiveValue(node, "cluster-enabled"), "yes") << i;
    EXPECT_EQ(DirectiveValue(node, "port"), std::to_string(7000 + i)) << i;
  }
}

// AclRules: the service user's rules without its state and password, for a test user with the
// same rules and another password (the Cluster-over-TLS model test's).
TEST(DeployRedisConfig, TheServiceUsersRulesComeWithoutItsPassword) {
  const std::string rules = AclRules(Acl(), "keycache");
  EXPECT_TRUE(rules.starts_with("resetchannels ~cache:apikeys:* &cache:apikeys:* -@all ")) << rules;
  EXPECT_NE(rules.find(" +cluster|shards"), std::string::npos) << rules;
  EXPECT_EQ(rules.find(AclPassword(Acl(), "keycache")), std::string::npos) << rules;
  EXPECT_EQ(rules.find(" on "), std::string::npos) << rules;
  EXPECT_EQ(AclRules(Acl(), "nobody"), "");
}

TEST(DeployRedis, StandaloneHardenedServesKeycachedAsTheServiceUser) {
  SharedRedisDeployment d(Shipped("redis.conf"));
  ASSERT_TRUE(d.StartRedis());
  RedisServerProcess& redis = d.redis();
  // The hardening is in force: dangerous commands are gone, CONFIG answers only to its secret,
  // no anonymous access, and the service user is fenced into its prefix and command list.
  for (const std::string cmd : {"FLUSHALL", "FLUSHDB", "KEYS", "CONFIG", "EVAL", "DEBUG"}) {
    std::vector<std::string> args = {cmd};
    if (cmd == "KEYS") args.push_back("*");
    if (cmd == "CONFIG") args = {"CONFIG", "GET", "maxmemory"};
    EXPECT_NE(ErrorOf(RedisCommand(redis, args)).find("unknown command"), std::string::npos) << cmd;
  }
  const std::string secret =
      DirectiveValue(ReadTextFile(kDeployDir + "/redis.conf"), "rename-command config");
  auto policy = RedisCommand(redis, {secret, "GET", "maxmemory-policy"});
  ASSERT_TRUE(policy && policy->is_array() && policy->elements.size() == 2) << ErrorOf(policy);
  EXPECT_EQ(policy->elements[1].str, "allkeys-lru");
  EXPECT_NE(ErrorOf(RedisCommand(redis, {"AUTH", "keycache", "wrong"})).find("WRONGPASS"),
            std::string::npos);
  EXPECT_EQ(ErrorOf(RedisCommand(redis, {"AUTH", "keycache", AclPassword(Acl(), "keycache")})), "");
  auto dry = RedisCommand(redis, {"ACL", "DRYRUN", "keycache", "GET", "other:key"});
  ASSERT_TRUE(dry.has_value());
  EXPECT_TRUE(dry->is_string() && dry->str.find("no permissions") != std::string::npos) << dry->str;
  dry = RedisCommand(redis, {"ACL", "DRYRUN", "keycache", "FLUSHALL"});
  ASSERT_TRUE(dry.has_value());
  EXPECT_FALSE(dry->is_ok()) << "the service user may FLUSHALL";
  dry = RedisCommand(redis, {"ACL", "DRYRUN", "keycache", "UNLINK", "cache:apikeys:v:x"});
  ASSERT_TRUE(dry.has_value());
  EXPECT_TRUE(dry->is_ok()) << dry->str;

  KeycachedProcess* p = d.AddInstance(ServiceUser());
  ASSERT_NE(p, nullptr);
  ApiClient api(p->port(), kSharedToken);
  ExpectServes(api);
  ExpectCleanStop(*p);
}

TEST(DeployRedis, TlsVariantServesKeycachedOverTls) {
  TempDir certs;
  const TestPki pki = MakeTestPki(certs.path());
  ASSERT_TRUE(pki.ok) << pki.error;
  RedisServerOptions o = Shipped("redis-tls.conf");
  o.tls = RedisServerOptions::Tls{pki.server_cert, pki.server_key, pki.ca_cert, true};
  SharedRedisDeployment d(o);
  ASSERT_TRUE(d.StartRedis());
  EnvVars env = ServiceUser();
  env["REDIS_TLS_CA"] = pki.ca_cert;
  env["REDIS_TLS_CERT"] = pki.client_cert;
  env["REDIS_TLS_KEY"] = pki.client_key;
  KeycachedProcess* p = d.AddInstance(env);
  ASSERT_NE(p, nullptr);
  ApiClient api(p->port(), kSharedToken);
  ExpectServes(api);
  ExpectCleanStop(*p);
}

TEST(DeployRedis, SentinelFromTheShippedFilesFailsOverAndKeycachedFollows) {
  SentinelDeploymentOptions so;
  so.deploy_dir = kDeployDir;
  // The file's 5000 ms down-after, shortened to the harness's (SentinelDeploymentOptions).
  SentinelDeployment sentinels(so);
  ASSERT_TRUE(sentinels.Start());
  TempDir shared;
  EnvVars env = StandaloneServiceEnv(shared);
  env["REDIS_SENTINELS"] = sentinels.SentinelsEnv();
  env["REDIS_SENTINEL_MASTER"] = "mymaster";
  env["REDIS_SENTINEL_PASSWORD"] = sentinels.options().sentinel_password;
  KeycachedProcess p(KeycachedOptions{env, std::nullopt});
  ASSERT_TRUE(p.Start());
  ApiClient api(p.port(), kSharedToken);
  ExpectServes(api);
  const CreatedKey k = CreateKey(api, UniqueOwner("failover"));
  const int old_primary = sentinels.KillPrimary();
  ASSERT_GE(old_primary, 0);
  int promoted = -1;
  ASSERT_TRUE(sentinels.WaitForPromotion(old_primary, 30s, &promoted));
  EXPECT_NE(promoted, old_primary);
  ASSERT_TRUE(WaitCoherent(api, 30s));
  EXPECT_EQ(Verify(api, k.key).Str("code"), "VALID");
  ExpectServes(api);
  ExpectCleanStop(p);
}

TEST(DeployRedis, ClusterFromTheSixShippedNodeFilesServesKeycached) {
  RedisClusterDeployment cluster(1'000, kDeployDir);
  ASSERT_TRUE(cluster.Start());
  TempDir shared;
  EnvVars env = StandaloneServiceEnv(shared);
  env["REDIS_CLUSTER_ENABLED"] = "true";
  env["REDIS_CLUSTER_NODES"] =
      cluster.endpoint(0).ToString() + "," + cluster.endpoint(1).ToString();
  env["KEYCACHE_USAGE_FLUSH_INTERVAL"] = "100ms";
  KeycachedProcess p(KeycachedOptions{env, std::nullopt});
  ASSERT_TRUE(p.Start());
  ApiClient api(p.port(), kSharedToken);
  for (int i = 0; i < 6; ++i) ExpectServes(api);  // six keys, spread over the slots
  if (::testing::Test::HasFailure()) std::cout << "keycached's log:\n" << p.log();

  // The emergency reset on this Cluster, as the service's ACL user: it finds every primary
  // through the two seeds (one primary is not among them) and empties the prefix on each.
  std::vector<CreatedKey> keys;
  for (int i = 0; i < 12; ++i) {
    keys.push_back(CreateKey(api, UniqueOwner("reset")));
    EXPECT_EQ(Verify(api, keys.back().key).Str("code"), "VALID");
  }
  const auto entries = [&] {
    std::vector<std::string> out;  // keys under the prefix but heartbeats, on every primary
    for (int i : cluster.Primaries()) {
      std::istringstream lines(cluster.Cli(i, "--scan --pattern 'cache:apikeys:*'"));
      for (std::string line; std::getline(lines, line);) {
        if (!line.empty() && !line.starts_with("cache:apikeys:hb:")) out.push_back(line);
      }
    }
    return out;
  };
  // Every verification's usage counter is in Redis before the reset (a flush landing after it
  // would write one again).
  ASSERT_TRUE(PollUntil([&] {
    return std::ranges::count_if(entries(), [](const std::string& k) {
             return k.starts_with("cache:apikeys:c:");
           }) >= 12;
  }));
  ASSERT_EQ(cluster.Primaries().size(), 3u);
  EnvVars operator_env = ServiceUser();
  operator_env["REDIS_CLUSTER_ENABLED"] = "true";
  operator_env["REDIS_CLUSTER_NODES"] = env["REDIS_CLUSTER_NODES"];
  operator_env["KEYCACHE_URL"] = p.url();
  operator_env["ADMIN_TOKEN"] = kSharedToken;
  const ScriptRun reset = RunScript("emergency-cache-reset.sh", {}, operator_env, p.workdir());
  ASSERT_EQ(reset.exit_code, 0) << reset.output;
  EXPECT_NE(reset.output.find("(Cluster)"), std::string::npos) << reset.output;
  const std::vector<std::string> left = entries();
  EXPECT_TRUE(left.empty()) << left.size() << " left, e.g. " << left[0] << "\n" << reset.output;
  for (const CreatedKey& k : keys) {
    const Reply v = Verify(api, k.key);
    EXPECT_EQ(v.Str("code"), "VALID");
    EXPECT_NE(v.Header("X-Cache-Status"), "HIT") << "L1 outlived the reset";
  }
  ExpectCleanStop(p);
}

}  // namespace
}  // namespace keycache::testing
