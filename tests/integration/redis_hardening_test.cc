// The defects of issue 7, each against real processes: a forged (well-formed, unknown) key that
// crashed every instance sharing Redis once one of them had cached it as missing; revocations
// acknowledged while Redis refused writes (READONLY, OOM, NOPERM) although every instance kept
// accepting the key; an unreadable push on the invalidation channel that lost invalidations.
// After any revocation that answered 2xx, every instance refuses the key on its next request;
// one that could not be fenced answers 503, and the key is refused everywhere within the lease.
#include <gtest/gtest.h>

#include "integration/redis_tier_util.h"
#include "redis/redis_test_util.h"

namespace keycache::testing {
namespace {

using namespace std::chrono_literals;

// A client of the deployment's Redis, as the default (requirepass) user.
class RedisAdmin {
 public:
  explicit RedisAdmin(RedisServerProcess& server)
      : client_(io_.executors(), Options(server), log_) {
    client_.Start();
    EXPECT_TRUE(PollUntil([&] { return client_.connected(); })) << client_.last_error();
  }
  ~RedisAdmin() { client_.Stop(); }
  RedisReply Run(std::initializer_list<std::string_view> args) {
    auto r = client_.ExecuteSync(Cmd(args));
    return r && !r->empty() ? (*r)[0] : RedisReply::Error("no reply");
  }

 private:
  static RedisOptions Options(RedisServerProcess& server) {
    RedisOptions o = server.ClientOptions();
    o.pool_size = 1;
    return o;
  }
  Logger log_{LogLevel::kOff};
  IoThreads io_{1};
  RedisClient client_;
};

std::string CacheStatusReason(ApiClient& api) {
  return api.Send(http::verb::get, "/health/cache").Str("reason");
}

// Expects `key` refused (REVOKED) by every instance, at once.
void ExpectRefusedEverywhere(const std::vector<ApiClient*>& apis, const std::string& key) {
  for (ApiClient* api : apis) {
    EXPECT_EQ(Verify(*api, key).Str("code"), "REVOKED");
    EXPECT_EQ(Auth(*api, key).status, 401u);
  }
}

// Revokes `k` on `a` while Redis refuses writes and checks the contract: a 2xx answer means every
// instance refuses at once; a 503 (the refusal named) means every instance refuses within the
// lease. Returns the status.
unsigned RevokeDuringRefusal(ApiClient& a, const std::vector<ApiClient*>& all, const CreatedKey& k,
                             std::string_view refusal) {
  const Reply revoked = a.Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", "{}");
  if (revoked.status / 100 == 2) {
    ExpectRefusedEverywhere(all, k.key);
  } else {
    EXPECT_EQ(revoked.status, 503u) << revoked.Describe();
    EXPECT_EQ(revoked.Str("error"), "propagation_pending") << revoked.Describe();
    EXPECT_NE(revoked.Str("message").find(refusal), std::string::npos) << revoked.Describe();
    for (ApiClient* api : all) {
      EXPECT_TRUE(PollUntil([&] { return Verify(*api, k.key).Str("code") == "REVOKED"; }, 5s))
          << "an instance kept accepting a revoked key past the lease";
    }
  }
  return revoked.status;
}

class RedisHardening : public ::testing::Test {
 protected:
  explicit RedisHardening(RedisServerOptions redis = SharedRedisDeployment::DefaultRedis())
      : deployment_(std::move(redis)) {}

  void StartTwo(const EnvVars& extra = {}) {
    ASSERT_TRUE(deployment_.StartRedis());
    EnvVars a_env = extra, b_env = extra;
    a_env["KEYCACHE_INSTANCE_ID"] = "node-a";
    b_env["KEYCACHE_INSTANCE_ID"] = "node-b";
    a_ = deployment_.AddInstance(a_env);
    b_ = deployment_.AddInstance(b_env);
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
    api_a_ = SharedRedisDeployment::Client(*a_);
    api_b_ = SharedRedisDeployment::Client(*b_);
  }
  void TearDown() override {
    for (KeycachedProcess* p : {a_, b_}) {
      if (p) ExpectCleanStop(*p);
    }
  }
  std::vector<ApiClient*> Both() { return {api_a_.get(), api_b_.get()}; }

  SharedRedisDeployment deployment_;
  KeycachedProcess* a_ = nullptr;
  KeycachedProcess* b_ = nullptr;
  std::unique_ptr<ApiClient> api_a_, api_b_;
};

// Regression: B died with SIGSEGV on the "no such key" entry A had sealed into Redis.
TEST_F(RedisHardening, AForgedKeyCachedAsMissingByOneInstanceIsNotFoundEverywhere) {
  ASSERT_NO_FATAL_FAILURE(StartTwo());
  KeycachedProcess* c = deployment_.AddInstance(
      {{"KEYCACHE_INSTANCE_ID", "node-c"}, {"KEYCACHE_L1_ENABLED", "false"}});
  ASSERT_NE(c, nullptr);
  auto api_c = SharedRedisDeployment::Client(*c);
  for (ApiClient* api : {api_a_.get(), api_b_.get(), api_c.get()}) ASSERT_TRUE(WaitCoherent(*api));

  // Minted under the deployment's pepper: it passes the tag check and reaches Redis and the store
  // (a key forged without the pepper would be refused before any lookup).
  const std::string forged = UnknownIssuedKey(kSharedPepper);
  EXPECT_EQ(Verify(*api_a_, forged).Str("code"), "NOT_FOUND");
  ASSERT_TRUE(PollUntil([&] {
    return MetricValue(*api_a_,
                       "keycache_l2_operations_total{operation=\"write_validation\","
                       "result=\"ok\"}") >= 1;
  })) << "A's \"missing\" entry never reached Redis";
  for (ApiClient* api : {api_b_.get(), api_c.get(), api_c.get(), api_b_.get()}) {
    const Reply r = Verify(*api, forged);
    EXPECT_EQ(r.Str("code"), "NOT_FOUND") << r.Describe();
    EXPECT_EQ(Auth(*api, forged).status, 401u);
  }
  // A restarted instance starts with an empty L1 and reads the same entry.
  EXPECT_EQ(a_->Stop(), 0);
  ASSERT_TRUE(a_->Start());
  api_a_ = SharedRedisDeployment::Client(*a_);  // a new port
  ASSERT_TRUE(WaitCoherent(*api_a_));
  EXPECT_EQ(Verify(*api_a_, forged).Str("code"), "NOT_FOUND");
  // Ordinary use: a deleted key that a client still presents.
  const CreatedKey k = CreateKey(*api_a_, UniqueOwner("deleted"));
  ASSERT_EQ(Verify(*api_b_, k.key).Str("code"), "VALID");
  ASSERT_EQ(api_a_->Admin(http::verb::delete_, "/v1/keys/" + k.id).status, 200u);
  for (ApiClient* api : {api_a_.get(), api_b_.get(), api_c.get()}) {
    EXPECT_EQ(Verify(*api, k.key).Str("code"), "NOT_FOUND");
  }
  for (KeycachedProcess* p : {a_, b_, c}) EXPECT_TRUE(p->running()) << p->log();
  ExpectCleanStop(*c);
}

// Regression: revokes answered 200 during READONLY while both instances kept answering VALID.
TEST_F(RedisHardening, ARevocationWhileRedisIsReadOnlyIsNeverAcknowledgedWhileServedStale) {
  ASSERT_NO_FATAL_FAILURE(StartTwo());
  for (ApiClient* api : Both()) ASSERT_TRUE(WaitCoherent(*api));
  const CreatedKey k = CreateKey(*api_a_, UniqueOwner("readonly"));
  for (ApiClient* api : Both()) {
    ASSERT_EQ(Verify(*api, k.key).Str("code"), "VALID");
    ASSERT_EQ(Verify(*api, k.key).Header("X-Cache-Status"), "HIT");
  }
  RedisAdmin redis(deployment_.redis());
  ASSERT_TRUE(redis.Run({"REPLICAOF", "127.0.0.1", "1"}).is_status());  // a demoted primary
  RevokeDuringRefusal(*api_a_, Both(), k, "READONLY");
  for (ApiClient* api : Both()) {
    EXPECT_TRUE(PollUntil([&] {
      return CacheStatusReason(*api).find("READONLY") != std::string::npos;
    })) << "/health/cache must name the refused write: "
        << CacheStatusReason(*api);
    EXPECT_EQ(api->Send(http::verb::get, "/health/cache").Str("status"), "degraded");
  }
  // The tier recovers by itself once Redis takes writes again; the revocation is in force.
  ASSERT_TRUE(redis.Run({"REPLICAOF", "NO", "ONE"}).is_status());
  for (ApiClient* api : Both()) ASSERT_TRUE(WaitCoherent(*api));
  const Reply again = api_a_->Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", "{}");
  EXPECT_EQ(again.status, 200u) << again.Describe();
  ExpectRefusedEverywhere(Both(), k.key);
}

class RedisHardeningOom : public RedisHardening {
 protected:
  static RedisServerOptions Redis() {
    RedisServerOptions o = SharedRedisDeployment::DefaultRedis();
    o.config_command = "KC_TEST_CONFIG";  // as a Sentinel-ready config renames it
    return o;
  }
  RedisHardeningOom() : RedisHardening(Redis()) {}
};

TEST_F(RedisHardeningOom, ARevocationWhileRedisIsOutOfMemoryIsNeverAcknowledgedWhileServedStale) {
  ASSERT_NO_FATAL_FAILURE(StartTwo());
  for (ApiClient* api : Both()) ASSERT_TRUE(WaitCoherent(*api));
  const CreatedKey k = CreateKey(*api_a_, UniqueOwner("oom"));
  for (ApiClient* api : Both()) ASSERT_EQ(Verify(*api, k.key).Str("code"), "VALID");
  RedisAdmin redis(deployment_.redis());
  // Memory full and nothing to evict: every write that may grow memory answers OOM.
  ASSERT_TRUE(redis.Run({"KC_TEST_CONFIG", "SET", "maxmemory-policy", "noeviction"}).is_status());
  ASSERT_TRUE(redis.Run({"KC_TEST_CONFIG", "SET", "maxmemory", "1"}).is_status());
  RevokeDuringRefusal(*api_a_, Both(), k, "OOM");
  for (ApiClient* api : Both()) {
    EXPECT_TRUE(PollUntil([&] { return CacheStatusReason(*api).find("OOM") != std::string::npos; }))
        << CacheStatusReason(*api);
  }
  ASSERT_TRUE(redis.Run({"KC_TEST_CONFIG", "SET", "maxmemory", "64mb"}).is_status());
  for (ApiClient* api : Both()) ASSERT_TRUE(WaitCoherent(*api));
  EXPECT_EQ(api_a_->Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", "{}").status, 200u);
  ExpectRefusedEverywhere(Both(), k.key);
}

class RedisHardeningNoPerm : public RedisHardening {
 protected:
  static RedisServerOptions Redis() {
    RedisServerOptions o = SharedRedisDeployment::DefaultRedis();
    o.more_users.push_back({"kc", "kc-pass", "~* &* +@all -incr"});
    return o;
  }
  RedisHardeningNoPerm() : RedisHardening(Redis()) {}
};

TEST_F(RedisHardeningNoPerm, AnAclUserWithoutIncrNeverTrustsTheCacheAndRecoversWhenGranted) {
  ASSERT_NO_FATAL_FAILURE(StartTwo({{"REDIS_USERNAME", "kc"}, {"REDIS_PASSWORD", "kc-pass"}}));
  const CreatedKey k = CreateKey(*api_a_, UniqueOwner("noperm"));
  for (ApiClient* api : Both()) {
    EXPECT_TRUE(PollUntil([&] {
      return CacheStatusReason(*api).find("NOPERM") != std::string::npos;
    })) << "/health/cache must name the refused write: "
        << CacheStatusReason(*api);
    const Reply v = Verify(*api, k.key);
    EXPECT_EQ(v.Str("code"), "VALID");
    EXPECT_EQ(v.Header("X-Cache-Status"), "BYPASS") << "no lease: the database answers";
  }
  RevokeDuringRefusal(*api_a_, Both(), k, "Redis");
  RedisAdmin redis(deployment_.redis());
  ASSERT_TRUE(redis.Run({"ACL", "SETUSER", "kc", "+incr"}).is_status());
  for (ApiClient* api : Both()) ASSERT_TRUE(WaitCoherent(*api));
  EXPECT_EQ(api_a_->Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", "{}").status, 200u);
  ExpectRefusedEverywhere(Both(), k.key);
}

// Regression: a rewritten push on the Pub/Sub connection silently lost invalidations.
TEST_F(RedisHardening, AnUnreadablePushIsTreatedAsALostInvalidation) {
  ASSERT_NO_FATAL_FAILURE(StartTwo());
  for (ApiClient* api : Both()) ASSERT_TRUE(WaitCoherent(*api));
  const CreatedKey k = CreateKey(*api_a_, UniqueOwner("push"));
  ASSERT_EQ(Verify(*api_b_, k.key).Str("code"), "VALID");
  ASSERT_EQ(Verify(*api_b_, k.key).Header("X-Cache-Status"), "HIT");
  RedisAdmin redis(deployment_.redis());
  ASSERT_TRUE(redis.Run({"PUBLISH", "it:apikeys:invalidations", "{\"v\":1,\"kind\":\"key\"}"})
                  .is_integer());
  ASSERT_TRUE(PollUntil([&] {
    const boost::json::value health = RedisHealth(*api_b_);
    const auto* n = Member(health, {"invalidationChannel", "anomalies"});
    return n && n->to_number<double>() >= 1;
  }));
  // The lease comes back and L1 was flushed on the way: B's next answer must not come from L1.
  // It is a Redis read (a HIT from L2) — or, if the lease lapsed again just before it (a
  // heartbeat late under load), a database read (BYPASS); never an old L1 entry.
  ASSERT_TRUE(WaitCoherent(*api_b_));
  const std::string l1_hits =
      "cache_hits_total{cache_type=\"validation\",key_type=\"api_key\",tier=\"l1\"}";
  const std::string l2_reads =
      "keycache_l2_operations_total{operation=\"read_validation\",result=\"hit\"}";
  const double l1_before = std::max(MetricValue(*api_b_, l1_hits), 0.0);
  const double l2_before = std::max(MetricValue(*api_b_, l2_reads), 0.0);
  ASSERT_GT(l1_before, 0) << "B's second verification above was an L1 hit: " << l1_hits;
  const Reply v = Verify(*api_b_, k.key);
  EXPECT_EQ(v.Str("code"), "VALID");
  EXPECT_EQ(std::max(MetricValue(*api_b_, l1_hits), 0.0), l1_before) << "L1 survived the anomaly";
  if (v.Header("X-Cache-Status") != "BYPASS") {
    EXPECT_EQ(MetricValue(*api_b_, l2_reads), l2_before + 1) << "a HIT must be Redis's";
  }
  EXPECT_TRUE(a_->running() && b_->running());
}

}  // namespace
}  // namespace keycache::testing
