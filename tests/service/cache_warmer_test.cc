// CacheWarmer: the most-used keys that can still verify land in the validation cache; revoked
// keys do not, not even when the revocation happens while warming reads them.
#include "service/cache_warmer.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "service_test_util.h"

namespace keycache {
namespace {

using testing::Must;
using testing::ServiceHarness;

class CacheWarmerTest : public ::testing::Test {
 protected:
  // A key with `uses` stored uses.
  CreatedKey KeyWithUsage(std::uint64_t uses) {
    CreatedKey k = h_.InsertDirect("owner-1");
    UsageDelta d{k.record.id, uses, h_.clock.NowMs(), "203.0.113.1"};
    Must(h_.sqlite->AddUsage(std::span<const UsageDelta>(&d, 1)), "AddUsage");
    return k;
  }
  bool CachedValid(const CreatedKey& k) {
    auto r = h_.VerifyCached(k.key);
    return r.has_value() && r->code == VerifyCode::kValid && r->cache == CacheStatus::kHit;
  }

  ServiceHarness h_;
};

TEST_F(CacheWarmerTest, TopKeysLandInTheCacheAndRevokedOnesDoNot) {
  const CreatedKey top = KeyWithUsage(300);
  const CreatedKey second = KeyWithUsage(200);
  const CreatedKey third = KeyWithUsage(100);
  const CreatedKey revoked = KeyWithUsage(1'000);  // the most used, but revoked
  h_.Revoke(revoked.record.id);
  const int reads_before = h_.store.find_calls.load();

  CacheWarmer warmer(h_.l1, h_.store, h_.metrics, h_.clock, h_.log, /*limit=*/2, /*chunk=*/1);
  WarmResult result = Must(warmer.Warm(), "Warm");
  EXPECT_EQ(result.candidates, 2u);
  EXPECT_EQ(result.loaded, 2u);

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

TEST_F(CacheWarmerTest, WarmsEveryCandidateAcrossChunks) {
  std::vector<CreatedKey> keys;
  for (int i = 0; i < 7; ++i) keys.push_back(KeyWithUsage(10 + i));
  CacheWarmer warmer(h_.l1, h_.store, h_.metrics, h_.clock, h_.log, /*limit=*/500, /*chunk=*/3);
  WarmResult result = Must(warmer.Warm(), "Warm");
  EXPECT_EQ(result.candidates, 7u);
  EXPECT_EQ(result.loaded, 7u);
  for (const CreatedKey& k : keys) EXPECT_TRUE(CachedValid(k));
}

TEST_F(CacheWarmerTest, ARotatedKeyInItsGraceIsWarmed) {
  const CreatedKey old_key = KeyWithUsage(50);
  Must(h_.io.Await(h_.keys.Rotate(old_key.record.id, 60'000)), "Rotate");
  CacheWarmer warmer(h_.l1, h_.store, h_.metrics, h_.clock, h_.log);
  ASSERT_TRUE(warmer.Warm());
  EXPECT_TRUE(CachedValid(old_key));
  h_.clock.Advance(60'000);
  EXPECT_EQ(h_.VerifyCached(old_key.key).value().code, VerifyCode::kRevoked);
}

TEST_F(CacheWarmerTest, ARevocationWhileWarmingReadsTheKeyIsNotUndone) {
  const CreatedKey key = KeyWithUsage(10);
  CacheWarmer warmer(h_.l1, h_.store, h_.metrics, h_.clock, h_.log);
  h_.store.HoldNextFindById();
  Result<WarmResult> result = WarmResult{};
  std::thread warming([&] { result = warmer.Warm(); });
  const bool held = h_.store.WaitUntilHeld();  // warming read the active record and is stuck
  if (held) h_.Revoke(key.record.id);
  h_.store.Release();
  warming.join();
  ASSERT_TRUE(held);

  ASSERT_TRUE(result);
  EXPECT_EQ(result->candidates, 1u);
  EXPECT_EQ(result->loaded, 0u);
  auto r = h_.VerifyCached(key.key);
  if (r.has_value()) {
    EXPECT_EQ(r->code, VerifyCode::kRevoked);
  }
  EXPECT_EQ(h_.Verify(key.key).value().code, VerifyCode::kRevoked);
}

TEST_F(CacheWarmerTest, AStoreFailureIsReported) {
  KeyWithUsage(10);
  h_.store.fail_find = true;
  CacheWarmer warmer(h_.l1, h_.store, h_.metrics, h_.clock, h_.log);
  auto result = warmer.Warm();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), Errc::kDatabase);
  EXPECT_EQ(h_.l1.Sizes().validation, 0u);
}

}  // namespace
}  // namespace keycache
