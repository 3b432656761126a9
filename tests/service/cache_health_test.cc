// CacheHealth: the /health/cache judgement from the hit-rate window, the options and the sizes.
#include "service/cache_health.h"

#include <gtest/gtest.h>

#include <memory>

#include "util/clock.h"

namespace keycache {
namespace {

class CacheHealthTest : public ::testing::Test {
 protected:
  CacheHealthReport Check(CacheHealthOptions options) {
    return CacheHealth(options, l1_, usage_, window_).Check();
  }
  void Lookups(int hits, int misses) {
    for (int i = 0; i < hits; ++i) window_.Record(AnsweredBy::kL1);
    for (int i = 0; i < misses; ++i) window_.Record(AnsweredBy::kDatabase);
  }

  ManualClock clock_;
  L1Cache l1_{L1Options{.max_bytes = std::size_t{1} << 20}, clock_};
  UsageCounter usage_;
  HitRateWindow window_{clock_};
};

TEST_F(CacheHealthTest, IdleCacheIsHealthy) {
  CacheHealthReport r = Check({});
  EXPECT_EQ(r.status, "healthy");
  EXPECT_TRUE(r.connected);
  EXPECT_EQ(r.reason, "");
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.window_lookups, 0u);
  EXPECT_DOUBLE_EQ(r.hit_rate, 1.0);
}

TEST_F(CacheHealthTest, FewLookupsAreHealthyWhateverTheHitRate) {
  Lookups(0, 99);  // min_lookups is 100
  CacheHealthReport r = Check({});
  EXPECT_EQ(r.status, "healthy");
  EXPECT_EQ(r.window_lookups, 99u);
  EXPECT_DOUBLE_EQ(r.hit_rate, 0.0);
}

TEST_F(CacheHealthTest, LowHitRateWithEnoughLookupsIsDegraded) {
  Lookups(79, 21);
  CacheHealthReport r = Check({});
  EXPECT_EQ(r.status, "degraded");
  EXPECT_EQ(r.window_lookups, 100u);
  EXPECT_DOUBLE_EQ(r.hit_rate, 0.79);
  EXPECT_NE(r.reason.find("hit rate"), std::string::npos) << r.reason;
  EXPECT_TRUE(r.connected);
}

TEST_F(CacheHealthTest, HitRateAtTheThresholdIsHealthy) {
  Lookups(80, 20);
  EXPECT_EQ(Check({}).status, "healthy");
  Lookups(100, 0);
  EXPECT_EQ(Check({}).status, "healthy");
}

TEST_F(CacheHealthTest, ThresholdsComeFromTheOptions) {
  Lookups(9, 1);
  CacheHealthOptions strict;
  strict.min_lookups = 10;
  strict.min_hit_rate = 0.95;
  EXPECT_EQ(Check(strict).status, "degraded");
  strict.min_lookups = 11;
  EXPECT_EQ(Check(strict).status, "healthy");
}

TEST_F(CacheHealthTest, OldLookupsLeaveTheWindow) {
  Lookups(0, 200);
  ASSERT_EQ(Check({}).status, "degraded");
  clock_.Advance(120'000);  // two minutes later the window is empty again
  CacheHealthReport r = Check({});
  EXPECT_EQ(r.status, "healthy");
  EXPECT_EQ(r.window_lookups, 0u);
}

TEST_F(CacheHealthTest, EmergencyModeIsDegradedWithAReason) {
  Lookups(100, 0);
  CacheHealthOptions o;
  o.emergency_mode = true;
  CacheHealthReport r = Check(o);
  EXPECT_EQ(r.status, "degraded");
  EXPECT_FALSE(r.connected);
  EXPECT_NE(r.reason.find("EMERGENCY_MODE"), std::string::npos) << r.reason;
}

TEST_F(CacheHealthTest, DisabledCacheIsDegradedWithAReason) {
  CacheHealthOptions o;
  o.cache_enabled = false;
  CacheHealthReport r = Check(o);
  EXPECT_EQ(r.status, "degraded");
  EXPECT_FALSE(r.connected);
  EXPECT_NE(r.reason.find("API_KEY_CACHE_ENABLED"), std::string::npos) << r.reason;
}

TEST_F(CacheHealthTest, ReportsEntryCountsAndBytes) {
  auto facts = std::make_shared<KeyFacts>();
  facts->id = 7;
  facts->scopes = {"users:read"};
  auto ticket = l1_.BeginFactsFill(7);
  ASSERT_TRUE(l1_.CompleteFactsFill(7, facts, ticket));
  auto missing = l1_.BeginFactsFill(8);
  ASSERT_TRUE(l1_.CompleteMissingFill(8, missing));
  l1_.PutScopeDecision(7, "users:read", true);
  auto list = l1_.BeginUserListFill("owner-1");
  ASSERT_TRUE(l1_.CompleteUserListFill("owner-1", std::make_shared<const std::string>("{}"), list));
  usage_.Record(7, clock_.NowMs(), "203.0.113.1");
  usage_.Record(9, clock_.NowMs(), "203.0.113.1");

  CacheHealthReport r = Check({});
  EXPECT_EQ(r.validation, 1u);
  EXPECT_EQ(r.negative, 1u);
  EXPECT_EQ(r.scope, 1u);
  EXPECT_EQ(r.user_list, 1u);
  EXPECT_EQ(r.usage, 2u);
  EXPECT_EQ(r.total_entries(), 5u);
  EXPECT_GT(r.bytes, 0u);
  EXPECT_GE(r.capacity_bytes, r.bytes);
  EXPECT_GT(r.capacity_bytes, 0u);
}

}  // namespace
}  // namespace keycache
