// The verifier with its L2 branch wired (a FakeSharedCache at the SharedCache seam): answers
// that come from the shared tier, "no such key" entries written by another instance (the forged
// key that crashed every instance), and the coherence lease that decides whether cached answers
// may be served at all.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/api_key.h"
#include "service/verifier.h"
#include "service_test_util.h"

namespace keycache {
namespace {

using testing::HarnessOptions;
using testing::Must;
using testing::ServiceHarness;

HarnessOptions WithL2(bool l1_enabled = true) {
  HarnessOptions o;
  o.with_shared = true;
  o.l1_enabled = l1_enabled;
  return o;
}

// A well-formed key (checksum and all) whose id no stored key has: anyone can mint these.
std::string Forged() {
  return Must(GenerateKey("ak", KeyHasher(testing::kPepper)), "generate").key;
}
KeyId IdOf(const std::string& key) { return *ParseKey("ak", key); }

class VerifierL2Test : public ::testing::TestWithParam<bool> {
 protected:
  VerifierL2Test() : h_(WithL2(/*l1_enabled=*/GetParam())) {}
  ServiceHarness h_;
};

INSTANTIATE_TEST_SUITE_P(L1OnAndOff, VerifierL2Test, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "L1On" : "L1Off"; });

// Regression: a sealed "no such key" entry arriving from L2 was dereferenced as facts (SIGSEGV).
TEST_P(VerifierL2Test, AMissingEntryWrittenByAnotherInstanceIsNotFound) {
  const std::string forged = Forged();
  h_.shared().PutCurrent(IdOf(forged), FactsAnswer::Absent());
  for (int i = 0; i < 3; ++i) {
    auto r = h_.Verify(forged);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, VerifyCode::kNotFound);
    EXPECT_EQ(r->facts, nullptr);
  }
  EXPECT_EQ(h_.store.find_calls.load(), 0) << "the L2 entry answered: no store read";
}

TEST_P(VerifierL2Test, AnUnknownKeyIsFilledIntoL2AndAnsweredFromItOnceL1Forgets) {
  const std::string forged = Forged();
  auto first = h_.Verify(forged);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->code, VerifyCode::kNotFound);
  EXPECT_EQ(first->cache, CacheStatus::kMiss);
  ASSERT_TRUE(testing::PollUntil([&] { return h_.shared().Stored(IdOf(forged)).has_value(); }));
  EXPECT_FALSE(h_.shared().Stored(IdOf(forged))->found());
  h_.l1.ClearAll();  // a restarted instance, or another one
  auto again = h_.Verify(forged);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->code, VerifyCode::kNotFound);
  EXPECT_EQ(again->cache, CacheStatus::kHit);
  EXPECT_EQ(h_.store.find_calls.load(), 1);
}

TEST_P(VerifierL2Test, FactsFromL2AnswerWithoutTheStore) {
  const CreatedKey created = h_.InsertDirect("owner-1", {"users:read"});
  auto facts = std::make_shared<const KeyFacts>(KeyFacts::From(created.record));
  h_.shared().PutCurrent(created.record.id, FactsAnswer::Found(facts));
  auto r = h_.Verify(created.key, {"users:read"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, VerifyCode::kValid);
  EXPECT_EQ(r->cache, CacheStatus::kHit);
  EXPECT_EQ(h_.store.find_calls.load(), 0);
  // A wrong secret for that id reveals nothing, from L2 as from anywhere.
  auto other = h_.Verify(
      Must(GenerateKeyWithId("ak", created.record.id, KeyHasher(testing::kPepper)), "generate")
          .key);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->code, VerifyCode::kNotFound);
  EXPECT_EQ(other->facts, nullptr);
}

// Issue 9: a verification Redis answered did not touch the database, so it is a hit (of the redis
// tier), and /health/cache's hit rate counts it; with L1 off a warm Redis is healthy.
TEST_P(VerifierL2Test, AnAnswerFromRedisIsAHitOfTheRedisTier) {
  const bool l1_on = GetParam();
  const CreatedKey created = h_.InsertDirect("owner-1");
  auto facts = std::make_shared<const KeyFacts>(KeyFacts::From(created.record));
  h_.shared().PutCurrent(created.record.id, FactsAnswer::Found(facts));
  constexpr int kVerifications = 150;  // past the default KEYCACHE_HEALTH_MIN_LOOKUPS (100)
  for (int i = 0; i < kVerifications; ++i) {
    auto r = h_.Verify(created.key);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->code, VerifyCode::kValid);
  }
  EXPECT_EQ(h_.store.find_calls.load(), 0);
  const double redis_hits =
      h_.Metric(R"(cache_hits_total{cache_type="validation",key_type="api_key",tier="redis"})");
  const double l1_hits =
      h_.Metric(R"(cache_hits_total{cache_type="validation",key_type="api_key",tier="l1"})");
  EXPECT_EQ(redis_hits, l1_on ? 1 : kVerifications);
  EXPECT_EQ(l1_hits, l1_on ? kVerifications - 1 : 0);
  EXPECT_EQ(h_.Metric(R"(cache_misses_total{cache_type="validation",key_type="api_key"})"), 0);
  EXPECT_EQ(h_.Metric(R"(cache_operation_duration_seconds_count{operation="lookup",)"
                      R"(cache_type="validation",tier="redis"})"),
            redis_hits)
      << "every Redis lookup is timed";

  const CacheHealthReport health = h_.app->health().Check();
  EXPECT_EQ(health.status, "healthy") << health.reason;
  EXPECT_EQ(health.window_lookups, static_cast<std::uint64_t>(kVerifications));
  EXPECT_DOUBLE_EQ(health.hit_rate, 1.0);
  EXPECT_DOUBLE_EQ(health.redis_hit_rate, redis_hits / kVerifications);
  EXPECT_DOUBLE_EQ(health.l1_hit_rate, l1_hits / kVerifications);
}

TEST_P(VerifierL2Test, AStoreAnswerIsAMissAndRedisNegativeAnswersAreHits) {
  const std::string forged = Forged();
  ASSERT_EQ(h_.Verify(forged)->code, VerifyCode::kNotFound);  // the store: a miss
  EXPECT_EQ(h_.Metric(R"(cache_misses_total{cache_type="validation",key_type="api_key"})"), 1);
  EXPECT_EQ(h_.Metric(R"(cache_operation_duration_seconds_count{operation="lookup",)"
                      R"(cache_type="validation",tier="database"})"),
            1);
  ASSERT_TRUE(testing::PollUntil([&] { return h_.shared().Stored(IdOf(forged)).has_value(); }));
  h_.l1.ClearAll();
  ASSERT_EQ(h_.Verify(forged)->code, VerifyCode::kNotFound);  // Redis's negative entry
  EXPECT_EQ(
      h_.Metric(R"(cache_hits_total{cache_type="validation",key_type="unknown_key",tier="redis"})"),
      1);
  const CacheHealthReport health = h_.app->health().Check();
  EXPECT_EQ(health.misses, 1u);
  EXPECT_EQ(health.redis_hits, 1u);
  EXPECT_DOUBLE_EQ(health.hit_rate, 0.5);
}

TEST_P(VerifierL2Test, AnEntrySealedUnderAnOldGenerationIsNotServed) {
  const CreatedKey created = h_.InsertDirect("owner-1");
  auto facts = std::make_shared<const KeyFacts>(KeyFacts::From(created.record));
  h_.shared().PutCurrent(created.record.id, FactsAnswer::Found(facts));
  h_.Revoke(created.record.id);  // bumps the generation through the sink
  auto r = h_.Verify(created.key);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, VerifyCode::kRevoked);
  EXPECT_EQ(r->cache, CacheStatus::kMiss);
}

TEST(VerifierLeaseTest, WithoutTheLeaseNeitherL1NorL2AnswersAndTheStoreDoes) {
  ServiceHarness h(WithL2());
  const CreatedKey created = h.Create("owner-1");
  ASSERT_EQ(h.Verify(created.key)->code, VerifyCode::kValid);
  ASSERT_TRUE(h.VerifyCached(created.key).has_value()) << "an L1 hit while the lease is held";
  // A revocation this instance never heard of (its message lost on a cut link).
  ASSERT_TRUE(h.sqlite->Revoke(created.record.id, h.clock.NowMs(), "elsewhere", h.clock.NowMs()));
  EXPECT_EQ(h.VerifyCached(created.key)->code, VerifyCode::kValid)
      << "under the lease L1 is trusted (the bound covers this window)";
  h.shared().coherent = false;  // the lease lapsed
  EXPECT_FALSE(h.VerifyCached(created.key).has_value()) << "no L1 answer past the lease";
  const int l2_reads = h.shared().fact_reads.load();
  auto r = h.Verify(created.key);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, VerifyCode::kRevoked);
  EXPECT_EQ(r->cache, CacheStatus::kBypass);
  EXPECT_EQ(h.shared().fact_reads.load(), l2_reads) << "Redis is not read past the lease";
}

TEST(VerifierLeaseTest, AnUnusableSharedTierMakesL1HitsBypass) {
  ServiceHarness h(WithL2());
  const CreatedKey created = h.Create("owner-1");
  ASSERT_EQ(h.Verify(created.key)->cache, CacheStatus::kMiss);
  h.shared().usable = false;  // the breaker opened; the lease is still held
  auto hit = h.VerifyCached(created.key);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->code, VerifyCode::kValid);
  EXPECT_EQ(hit->cache, CacheStatus::kBypass);
  const CreatedKey cold = h.Create("owner-2");
  auto miss = h.Verify(cold.key);
  ASSERT_TRUE(miss);
  EXPECT_EQ(miss->code, VerifyCode::kValid);
  EXPECT_EQ(miss->cache, CacheStatus::kBypass);
}

TEST(KeyServiceL2Test, ARevokeTheSharedTierRefusesIsCommittedButNotInForce) {
  ServiceHarness h(WithL2());
  const CreatedKey created = h.Create("owner-1");
  ASSERT_EQ(h.Verify(created.key)->code, VerifyCode::kValid);
  h.shared().refuse_fences = true;
  auto revoked = h.io.Await(h.keys.Revoke(created.record.id, "leaked"));
  ASSERT_TRUE(revoked);
  EXPECT_FALSE(revoked->propagation.in_force);
  EXPECT_NE(revoked->propagation.reason.find("READONLY"), std::string::npos)
      << revoked->propagation.reason;
  EXPECT_NE(revoked->value.revoked_at, kNever) << "the store committed it";
  EXPECT_EQ(h.Verify(created.key)->code, VerifyCode::kRevoked) << "this instance's L1 dropped it";
  // Once the tier takes writes again, repeating the revoke confirms it.
  h.shared().refuse_fences = false;
  h.shared().usable = true;
  auto again = h.io.Await(h.keys.Revoke(created.record.id, "leaked"));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->propagation.in_force);
}

}  // namespace
}  // namespace keycache
