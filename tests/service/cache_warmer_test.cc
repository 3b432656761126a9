// CacheWarmer: the most-used keys land in every tier as a verification's miss would put them
// there (validation entries in L1 and Redis, their scope decisions, their owners' key lists);
// revoked keys are never resurrected, not even when the revocation happens while warming reads
// them; a warm-up asked for here is passed on to the other instances.
#include "service/cache_warmer.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "service_test_util.h"

namespace keycache {
namespace {

using testing::HarnessOptions;
using testing::Must;
using testing::ServiceHarness;

class CacheWarmerTest : public ::testing::Test {
 protected:
  explicit CacheWarmerTest(HarnessOptions o = {}) : h_(o) {}

  // A key with `uses` stored uses.
  CreatedKey KeyWithUsage(std::uint64_t uses, const std::string& owner = "owner-1",
                          std::vector<std::string> scopes = {}) {
    CreatedKey k = h_.InsertDirect(owner, std::move(scopes));
    UsageDelta d{k.record.id, uses, h_.clock.NowMs(), "203.0.113.1"};
    Must(h_.sqlite->AddUsage(std::span<const UsageDelta>(&d, 1)), "AddUsage");
    return k;
  }
  bool CachedValid(const CreatedKey& k) {
    auto r = h_.VerifyCached(k.key);
    return r.has_value() && r->code == VerifyCode::kValid && r->cache == CacheStatus::kHit;
  }
  CacheWarmer MakeWarmer(std::size_t limit = 500) {
    return CacheWarmer(h_.verifier, h_.keys, h_.store, h_.db, h_.metrics, h_.clock, h_.log, limit);
  }
  Result<WarmResult> Warm(CacheWarmer& warmer) { return h_.io.Await(warmer.Warm()); }

  ServiceHarness h_;
};

TEST_F(CacheWarmerTest, TopKeysLandInTheCacheAndRevokedOnesDoNot) {
  const CreatedKey top = KeyWithUsage(300);
  const CreatedKey second = KeyWithUsage(200);
  const CreatedKey third = KeyWithUsage(100);
  const CreatedKey revoked = KeyWithUsage(1'000);  // the most used, but revoked
  h_.Revoke(revoked.record.id);
  const int reads_before = h_.store.find_calls.load();

  CacheWarmer warmer = MakeWarmer(/*limit=*/2);
  WarmResult result = Must(Warm(warmer), "Warm");
  EXPECT_EQ(result.candidates, 2u);
  EXPECT_EQ(result.keys, 2u);
  EXPECT_EQ(result.from_database, 2u);
  EXPECT_EQ(result.from_redis, 0u);

  EXPECT_TRUE(CachedValid(top));
  EXPECT_TRUE(CachedValid(second));
  EXPECT_FALSE(h_.VerifyCached(third.key).has_value());  // beyond the limit
  auto r = h_.VerifyCached(revoked.key);
  EXPECT_FALSE(r.has_value() && r->code == VerifyCode::kValid);
  EXPECT_EQ(h_.store.find_calls.load(), reads_before + 2);  // warming's re-reads only

  // Verifying a warmed key costs no store read.
  auto v = h_.Verify(top.key);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->cache, CacheStatus::kHit);
  EXPECT_EQ(h_.store.find_calls.load(), reads_before + 2);
}

// Scope decisions for the key's own scopes and the owners' key lists are warmed too: a verify
// that requires one of them and a list of an owner are answered without the store.
TEST_F(CacheWarmerTest, ScopeDecisionsAndOwnerListsAreWarmed) {
  const CreatedKey a = KeyWithUsage(30, "alice", {"reports:read", "reports:write"});
  const CreatedKey b = KeyWithUsage(20, "alice", {"billing:read"});
  const CreatedKey c = KeyWithUsage(10, "bob");
  CacheWarmer warmer = MakeWarmer();
  WarmResult result = Must(Warm(warmer), "Warm");
  EXPECT_EQ(result.keys, 3u);
  EXPECT_EQ(result.scope_decisions, 3u);
  EXPECT_EQ(result.owner_lists, 2u);  // alice and bob, once each
  EXPECT_EQ(h_.l1.GetScopeDecision(a.record.id, "reports:write"), std::optional<bool>(true));
  EXPECT_EQ(h_.l1.GetScopeDecision(b.record.id, "billing:read"), std::optional<bool>(true));

  const int reads_before = h_.store.find_calls.load();
  auto scoped = h_.VerifyCached(a.key, {"reports:write"});
  ASSERT_TRUE(scoped.has_value());
  EXPECT_EQ(scoped->code, VerifyCode::kValid);
  for (const char* owner : {"alice", "bob"}) {
    auto listed = Must(h_.io.Await(h_.keys.ListByOwner(owner)), "ListByOwner");
    EXPECT_EQ(listed.cache, CacheStatus::kHit) << owner;
  }
  EXPECT_EQ(h_.store.find_calls.load(), reads_before);
  (void)c;
}

TEST_F(CacheWarmerTest, ARotatedKeyInItsGraceIsWarmed) {
  const CreatedKey old_key = KeyWithUsage(50);
  Must(h_.io.Await(h_.keys.Rotate(old_key.record.id, 60'000)), "Rotate");
  CacheWarmer warmer = MakeWarmer();
  ASSERT_TRUE(Warm(warmer));
  EXPECT_TRUE(CachedValid(old_key));
  h_.clock.Advance(60'000);
  EXPECT_EQ(h_.VerifyCached(old_key.key).value().code, VerifyCode::kRevoked);
}

TEST_F(CacheWarmerTest, ARevocationWhileWarmingReadsTheKeyIsNotUndone) {
  const CreatedKey key = KeyWithUsage(10);
  CacheWarmer warmer = MakeWarmer();
  h_.store.HoldNextFindById();
  std::future<Result<WarmResult>> warming = h_.io.Spawn(warmer.Warm());
  const bool held = h_.store.WaitUntilHeld();  // warming read the active record and is stuck
  if (held) h_.Revoke(key.record.id);
  h_.store.Release();
  Result<WarmResult> result = warming.get();
  ASSERT_TRUE(held);

  ASSERT_TRUE(result);
  EXPECT_EQ(result->candidates, 1u);
  // The fill of the read that predates the revocation was refused; the key is cached as it is
  // now (revoked) or not at all, never as valid.
  auto r = h_.VerifyCached(key.key);
  if (r.has_value()) EXPECT_EQ(r->code, VerifyCode::kRevoked);
  EXPECT_EQ(h_.Verify(key.key).value().code, VerifyCode::kRevoked);
}

TEST_F(CacheWarmerTest, AStoreFailureIsReported) {
  KeyWithUsage(10);
  h_.store.fail_find = true;
  CacheWarmer warmer = MakeWarmer();
  auto result = Warm(warmer);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), Errc::kDatabase);
  EXPECT_EQ(h_.l1.Sizes().validation, 0u);
}

TEST_F(CacheWarmerTest, OtherInstancesAreAskedThroughTheBroadcast) {
  CacheWarmer warmer = MakeWarmer();
  EXPECT_EQ(h_.io.Await(warmer.AskOthers(std::chrono::seconds(5))), std::nullopt);  // no channel
  int asked = 0;
  bool channel_up = true;
  warmer.SetBroadcast([&](std::function<void(bool)> sent) {
    ++asked;
    sent(channel_up);
  });
  EXPECT_EQ(h_.io.Await(warmer.AskOthers(std::chrono::seconds(5))), std::optional<bool>(true));
  channel_up = false;
  EXPECT_EQ(h_.io.Await(warmer.AskOthers(std::chrono::seconds(5))), std::optional<bool>(false));
  EXPECT_EQ(asked, 2);
}

class CacheWarmerL2Test : public CacheWarmerTest {
 protected:
  CacheWarmerL2Test() : CacheWarmerTest(HarnessOptions{.with_shared = true}) {}
};

// With the Redis tier, warming fills both tiers: entries Redis lacks are read from the store and
// sealed into it; entries it holds are taken from it without a store read.
TEST_F(CacheWarmerL2Test, BothTiersAreFilled) {
  const CreatedKey a = KeyWithUsage(20);
  const CreatedKey b = KeyWithUsage(10);
  CacheWarmer warmer = MakeWarmer();
  WarmResult first = Must(Warm(warmer), "Warm");
  EXPECT_EQ(first.from_database, 2u);
  EXPECT_EQ(h_.shared().fact_writes.load(), 2);  // sealed into Redis

  h_.l1.Clear(CacheType::kValidation);  // as on another instance, whose L1 is empty
  const int reads_before = h_.store.find_calls.load();
  WarmResult second = Must(Warm(warmer), "Warm");
  EXPECT_EQ(second.from_redis, 2u);
  EXPECT_EQ(second.from_database, 0u);
  EXPECT_EQ(h_.store.find_calls.load(), reads_before);
  EXPECT_TRUE(CachedValid(a));
  EXPECT_TRUE(CachedValid(b));
}

}  // namespace
}  // namespace keycache
