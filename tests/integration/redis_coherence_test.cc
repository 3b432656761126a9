// Two keycached instances sharing one hardened Redis and one database: the shared L2, revocation
// and rotation across instances, type-wide invalidation with SCAN, usage across instances.
#include <gtest/gtest.h>

#include "integration/redis_tier_util.h"
#include "support/promtool.h"

namespace keycache::testing {
namespace {

class RedisCoherence : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(deployment_.StartRedis());
    a_ = deployment_.AddInstance({{"KEYCACHE_INSTANCE_ID", "node-a"}});
    b_ = deployment_.AddInstance({{"KEYCACHE_INSTANCE_ID", "node-b"}});
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
    api_a_ = SharedRedisDeployment::Client(*a_);
    api_b_ = SharedRedisDeployment::Client(*b_);
    // Both instances hold their coherence lease before anything is revoked.
    for (ApiClient* api : {api_a_.get(), api_b_.get()}) ASSERT_TRUE(WaitCoherent(*api));
  }

  void TearDown() override {
    if (a_) ExpectCleanStop(*a_);
    if (b_) ExpectCleanStop(*b_);
  }

  ApiClient& A() { return *api_a_; }
  ApiClient& B() { return *api_b_; }

  SharedRedisDeployment deployment_;
  KeycachedProcess* a_ = nullptr;
  KeycachedProcess* b_ = nullptr;
  std::unique_ptr<ApiClient> api_a_, api_b_;
};

TEST_F(RedisCoherence, AKeyVerifiedOnOneInstanceIsServedFromRedisOnTheOther) {
  const CreatedKey k = CreateKey(A(), UniqueOwner("l2"));
  const Reply first = Verify(A(), k.key);
  ASSERT_EQ(first.Str("code"), "VALID");
  EXPECT_EQ(first.Header("X-Cache-Status"), "MISS");
  const double reads_before = MetricValue(B(), "keycache_store_reads_total");
  // A's fill reaches Redis asynchronously: B's first lookup may still miss L2 and read the store.
  ASSERT_TRUE(PollUntil([&] {
    return MetricValue(B(),
                       "keycache_l2_operations_total{operation=\"write_validation\","
                       "result=\"ok\"}") >= 0 &&
           MetricValue(A(),
                       "keycache_l2_operations_total{operation=\"write_validation\","
                       "result=\"ok\"}") >= 1;
  }));
  const Reply on_b = Verify(B(), k.key);
  EXPECT_EQ(on_b.Str("code"), "VALID");
  EXPECT_EQ(on_b.Header("X-Cache-Status"), "HIT") << "B's L1 was empty: the hit came from Redis";
  EXPECT_EQ(MetricValue(B(), "keycache_store_reads_total"), reads_before)
      << "B read the database although Redis held the entry";
  EXPECT_GE(MetricValue(B(),
                        "keycache_l2_operations_total{operation=\"read_validation\","
                        "result=\"hit\"}"),
            1);
}

TEST_F(RedisCoherence, ARevocationOnAReachesBsL1) {
  const CreatedKey k = CreateKey(A(), UniqueOwner("revoke"));
  ASSERT_EQ(Verify(B(), k.key).Str("code"), "VALID");
  const Reply cached = Verify(B(), k.key);
  ASSERT_EQ(cached.Header("X-Cache-Status"), "HIT") << "B holds the key in its L1";

  const Reply revoked = A().Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", "{}");
  ASSERT_EQ(revoked.status, 200u) << revoked.Describe();
  std::string last;
  EXPECT_TRUE(
      PollUntil([&] { return (last = Verify(B(), k.key).Str("code")) == "REVOKED"; }, 5s, 5ms))
      << "B still says " << last;
  EXPECT_EQ(Auth(B(), k.key).status, 401u);

  const auto h = RedisHealth(B());
  const auto* received = Member(h, {"invalidationChannel", "received"});
  ASSERT_NE(received, nullptr);
  EXPECT_GE(received->to_number<double>(), 1);
  const auto* samples = Member(h, {"propagationLag", "samples"});
  ASSERT_NE(samples, nullptr);
  EXPECT_GE(samples->to_number<double>(), 1);
  EXPECT_GE(MetricValue(B(), "keycache_invalidation_propagation_seconds_count"), 1);
}

// POST /admin/cache/warm on A warms both tiers on A and, over the channel, B's L1 too: B then
// answers the warmed keys from L1, with neither a store read nor a Redis read.
TEST_F(RedisCoherence, AWarmUpOnAWarmsEveryInstance) {
  std::vector<CreatedKey> keys;
  for (int i = 0; i < 3; ++i) {
    keys.push_back(CreateKey(A(), UniqueOwner("warm"), {"reports:read"}));
    ASSERT_EQ(Verify(A(), keys.back().key).Str("code"), "VALID");
  }
  const auto invalidate = [&](const std::string& body) {
    return A().Admin(http::verb::post, "/admin/cache/invalidate", body);
  };
  ASSERT_EQ(invalidate(R"({"type":"usage"})").status, 200u);  // usage reaches the store
  ASSERT_EQ(invalidate("{}").status, 200u);  // every tier of every instance is empty

  const auto warm_ups_of_b = [&] {  // "cache_warmed" lines in B's log (one at start-up)
    const std::string log = b_->log();
    std::size_t n = 0;
    for (std::size_t at = 0; (at = log.find(" cache_warmed ", at)) != std::string::npos; ++at) ++n;
    return n;
  };
  const std::size_t b_warm_ups = warm_ups_of_b();
  const Reply warmed = A().Admin(http::verb::post, "/admin/cache/warm");
  ASSERT_EQ(warmed.status, 200u) << warmed.Describe();
  EXPECT_EQ(warmed.Str("other_instances"), "asked") << warmed.Describe();
  EXPECT_GE(warmed.json.at("from_database").to_number<double>(), 3.0) << warmed.Describe();
  EXPECT_GE(warmed.json.at("owner_lists").to_number<double>(), 3.0) << warmed.Describe();
  EXPECT_GE(warmed.json.at("scope_decisions").to_number<double>(), 3.0) << warmed.Describe();

  ASSERT_TRUE(PollUntil([&] { return warm_ups_of_b() > b_warm_ups; }))
      << "B never warmed: " << b_->log();
  const std::string redis_hits =
      "keycache_l2_operations_total{operation=\"read_validation\",result=\"hit\"}";
  const double reads_before = MetricValue(B(), "keycache_store_reads_total");
  const double redis_hits_before = MetricValue(B(), redis_hits);
  for (const CreatedKey& k : keys) {
    const Reply on_b = Verify(B(), k.key, {"reports:read"});
    EXPECT_EQ(on_b.Str("code"), "VALID") << on_b.Describe();
    EXPECT_EQ(on_b.Header("X-Cache-Status"), "HIT") << on_b.Describe();
  }
  EXPECT_EQ(MetricValue(B(), "keycache_store_reads_total"), reads_before);
  EXPECT_EQ(MetricValue(B(), redis_hits), redis_hits_before) << "B's L1 was not warmed";
}

TEST_F(RedisCoherence, DeleteAndUpdateOnBReachA) {
  const CreatedKey k = CreateKey(A(), UniqueOwner("update"), {"reports:read"});
  ASSERT_EQ(Verify(A(), k.key, {"reports:read"}).Str("code"), "VALID");
  ASSERT_EQ(Verify(A(), k.key, {"reports:read"}).Header("X-Cache-Status"), "HIT");
  const Reply patched =
      B().Admin(http::verb::patch, "/v1/keys/" + k.id, R"({"scopes":["billing:read"]})");
  ASSERT_EQ(patched.status, 200u) << patched.Describe();
  EXPECT_TRUE(PollUntil(
      [&] { return Verify(A(), k.key, {"reports:read"}).Str("code") == "INSUFFICIENT_SCOPE"; }, 5s,
      5ms));
  const Reply deleted = B().Admin(http::verb::delete_, "/v1/keys/" + k.id);
  ASSERT_EQ(deleted.status, 200u) << deleted.Describe();
  EXPECT_TRUE(PollUntil([&] { return Verify(A(), k.key).Str("code") == "NOT_FOUND"; }, 5s, 5ms));
}

TEST_F(RedisCoherence, RotationWithGraceBehavesTheSameOnBothInstances) {
  const CreatedKey old = CreateKey(A(), UniqueOwner("rotate"));
  ASSERT_EQ(Verify(A(), old.key).Str("code"), "VALID");
  ASSERT_EQ(Verify(B(), old.key).Str("code"), "VALID");
  const Reply rotated =
      A().Admin(http::verb::post, "/v1/keys/" + old.id + "/rotate", R"({"grace_seconds":2})");
  ASSERT_EQ(rotated.status, 201u) << rotated.Describe();
  const std::string new_key = rotated.Str("key");
  for (ApiClient* api : {&A(), &B()}) {
    EXPECT_EQ(Verify(*api, new_key).Str("code"), "VALID");
    EXPECT_EQ(Verify(*api, old.key).Str("code"), "VALID") << "inside the grace period";
  }
  for (ApiClient* api : {&A(), &B()}) {
    std::string last;
    EXPECT_TRUE(PollUntil([&] { return (last = Verify(*api, old.key).Str("code")) == "REVOKED"; },
                          20s, 50ms))
        << "still " << last;
    EXPECT_EQ(Verify(*api, new_key).Str("code"), "VALID");
  }
}

TEST_F(RedisCoherence, OwnerListsAreSharedAndInvalidatedAcrossInstances) {
  const std::string owner = UniqueOwner("list");
  const CreatedKey k1 = CreateKey(A(), owner);
  const Reply first = A().Admin(http::verb::get, "/v1/owners/" + owner + "/keys");
  ASSERT_EQ(first.status, 200u);
  ASSERT_TRUE(PollUntil([&] {
    return B().Admin(http::verb::get, "/v1/owners/" + owner + "/keys").Header("X-Cache-Status") ==
           "HIT";
  }));
  const CreatedKey k2 = CreateKey(A(), owner);
  EXPECT_TRUE(PollUntil(
      [&] {
        const Reply r = B().Admin(http::verb::get, "/v1/owners/" + owner + "/keys");
        return r.body.find(k2.id) != std::string::npos;
      },
      5s, 5ms))
      << "B's list never showed the key created on A";
}

TEST_F(RedisCoherence, TypeWideInvalidationClearsRedisWithScan) {
  std::vector<CreatedKey> keys;
  for (int i = 0; i < 5; ++i) keys.push_back(CreateKey(A(), UniqueOwner("scan")));
  for (const auto& k : keys) ASSERT_EQ(Verify(A(), k.key).Str("code"), "VALID");
  ASSERT_TRUE(PollUntil([&] {
    return MetricValue(A(),
                       "keycache_l2_operations_total{operation=\"write_validation\","
                       "result=\"ok\"}") >= 5;
  }));
  const Reply cleared =
      B().Admin(http::verb::post, "/admin/cache/invalidate", R"({"type":"validation"})");
  ASSERT_EQ(cleared.status, 200u) << cleared.Describe();
  // A's L1 was cleared by the message; Redis by SCAN + UNLINK: A reads the store again.
  const double reads = MetricValue(A(), "keycache_store_reads_total");
  EXPECT_TRUE(PollUntil([&] { return Verify(A(), keys[0].key).Header("X-Cache-Status") == "MISS"; },
                        5s, 5ms));
  EXPECT_GT(MetricValue(A(), "keycache_store_reads_total"), reads);
}

TEST_F(RedisCoherence, UsageFromBothInstancesIsCountedOnceAndSurvivesAGracefulStop) {
  const CreatedKey k = CreateKey(A(), UniqueOwner("usage"));
  for (int i = 0; i < 7; ++i) ASSERT_EQ(Verify(A(), k.key).Str("code"), "VALID");
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Verify(B(), k.key).Str("code"), "VALID");
  ExpectCleanStop(*b_);  // B's unflushed counts are written at shutdown
  b_ = nullptr;
  EXPECT_TRUE(PollUntil([&] { return RequestCount(A(), k.id) == 12; })) << RequestCount(A(), k.id);
  // The shared per-minute counters saw each flushed count once.
  EXPECT_TRUE(PollUntil([&] {
    const Reply u = A().Admin(http::verb::get, "/v1/keys/" + k.id + "/usage");
    const auto* cur = Member(u.json, {"recent_all_instances", "current_minute"});
    const auto* prev = Member(u.json, {"recent_all_instances", "previous_minute"});
    return cur && prev && cur->to_number<double>() + prev->to_number<double>() >= 7;
  }));
  EXPECT_EQ(RequestCount(A(), k.id), 12) << "no double counting after the flushes settle";
}

TEST_F(RedisCoherence, TheRedisTiersMetricsPassPromtool) {
  const CreatedKey k = CreateKey(A(), UniqueOwner("prom"));
  ASSERT_EQ(Verify(B(), k.key).Str("code"), "VALID");
  ASSERT_EQ(A().Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", "{}").status, 200u);
  ASSERT_TRUE(PollUntil([&] { return Verify(B(), k.key).Str("code") == "REVOKED"; }));
  const Reply r = B().Send(http::verb::get, "/metrics");
  ASSERT_EQ(r.status, 200u);
  const PromtoolResult check = PromtoolCheck(r.body);
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << r.body;
  for (const char* series :
       {"keycache_l2_operations_total", "keycache_redis_connected 1",
        "keycache_redis_breaker_open 0", "keycache_invalidation_channel_up 1",
        "keycache_invalidation_channel_silence_seconds", "keycache_invalidations_pending 0",
        "keycache_invalidation_propagation_seconds_bucket",
        "keycache_redis_breaker_opened_total"}) {
    EXPECT_NE(r.body.find(std::string("\n") + series), std::string::npos) << series;
  }
}

// REDIS_POOL_SIZE below the number of threads (two HTTP threads and the tier's): each thread still
// gets a connection of its own, so the instance serves, revokes and stops cleanly. A thread without
// one used to queue its calls on another thread's executor, where they could outlive the tier at
// shutdown (a use-after-free under ASan, a non-zero exit here).
TEST(RedisPool, APoolSmallerThanTheThreadsServesAndStopsCleanly) {
  SharedRedisDeployment deployment;
  ASSERT_TRUE(deployment.StartRedis());
  KeycachedProcess* p =
      deployment.AddInstance({{"REDIS_POOL_SIZE", "1"}, {"KEYCACHE_THREADS", "2"}});
  ASSERT_NE(p, nullptr);
  auto api = SharedRedisDeployment::Client(*p);
  ASSERT_TRUE(WaitCoherent(*api));
  for (int i = 0; i < 10; ++i) {
    const CreatedKey k = CreateKey(*api, UniqueOwner("pool"));
    EXPECT_EQ(Verify(*api, k.key).Str("code"), "VALID");
    ASSERT_EQ(api->Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", "{}").status, 200u);
    EXPECT_EQ(Verify(*api, k.key).Str("code"), "REVOKED");
  }
  const auto h = RedisHealth(*api);
  const auto* pool = Member(h, {"poolSize"});
  ASSERT_NE(pool, nullptr);
  EXPECT_GE(pool->to_number<double>(), 3) << "one connection per thread at least";
  ExpectCleanStop(*p);
}

// Issue 9: with L1 off every verification reads Redis; an answer from Redis is a hit, so a warm
// Redis is healthy (it was 503 with a hit rate of 0), and /health/cache shows the tier.
TEST(RedisCacheHealth, L1DisabledWithAWarmRedisIsHealthy) {
  SharedRedisDeployment d;
  ASSERT_TRUE(d.StartRedis());
  KeycachedProcess* p =
      d.AddInstance({{"KEYCACHE_L1_ENABLED", "false"}, {"KEYCACHE_HEALTH_MIN_LOOKUPS", "20"}});
  ASSERT_NE(p, nullptr);
  auto api = SharedRedisDeployment::Client(*p);
  ASSERT_TRUE(WaitCoherent(*api));
  const CreatedKey k = CreateKey(*api, UniqueOwner("l1off"), {"reports:read"});
  // The creation's invalidation in Redis (for a "no such key" entry of its id) is not awaited
  // by the create: let it land first, or it may delete the fill of the verification below.
  ASSERT_TRUE(PollUntil([&] {
    return MetricValue(*api, R"(keycache_l2_operations_total{operation="invalidate",)"
                             R"(result="ok"})") >= 1;
  }));
  ASSERT_EQ(Verify(*api, k.key, {"reports:read"}).Header("X-Cache-Status"), "MISS");
  // The fill reaches Redis asynchronously.
  ASSERT_TRUE(PollUntil([&] {
    return MetricValue(*api, R"(keycache_l2_operations_total{operation="write_validation",)"
                             R"(result="ok"})") >= 1;
  }));
  for (int i = 0; i < 39; ++i) {
    const Reply r = Verify(*api, k.key, {"reports:read"});
    ASSERT_EQ(r.Str("code"), "VALID") << r.Describe();
    ASSERT_EQ(r.Header("X-Cache-Status"), "HIT") << r.Describe();
  }
  const Reply h = api->Send(http::verb::get, "/health/cache");
  EXPECT_EQ(h.status, 200u) << h.Describe();
  EXPECT_EQ(h.Str("status"), "healthy") << h.Describe();
  const auto* lookups = Member(h.json, {"cache", "lookupsByTier"});
  ASSERT_NE(lookups, nullptr) << h.Describe();
  EXPECT_EQ(lookups->at("l1").to_number<double>(), 0) << h.Describe();
  EXPECT_EQ(lookups->at("redis").to_number<double>(), 39) << h.Describe();
  EXPECT_EQ(lookups->at("database").to_number<double>(), 1) << h.Describe();
  EXPECT_NE(h.body.find("\"hitRate\":0.975,"), std::string::npos) << "39 of 40: " << h.body;
  EXPECT_NE(h.body.find("\"hitRateByTier\":{\"l1\":0.0,\"redis\":0.975}"), std::string::npos)
      << h.body;
  EXPECT_GE(
      MetricValue(*api,
                  R"(cache_hits_total{cache_type="validation",key_type="api_key",tier="redis"})"),
      39);
}

}  // namespace
}  // namespace keycache::testing
