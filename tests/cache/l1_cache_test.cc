#include "cache/l1_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

namespace keycache {
namespace {

std::shared_ptr<const KeyFacts> Facts(KeyId id, std::string owner,
                                      std::vector<std::string> scopes) {
  auto f = std::make_shared<KeyFacts>();
  f->id = id;
  f->owner_id = std::move(owner);
  f->scopes = std::move(scopes);
  return f;
}

L1Options Options(std::size_t max_bytes) {
  L1Options o;
  o.max_bytes = max_bytes;
  return o;
}

bool Fill(L1Cache& l1, const std::shared_ptr<const KeyFacts>& f) {
  const FactsFillTicket ticket = l1.BeginFactsFill(f->id);
  return l1.CompleteFactsFill(f->id, f, ticket);
}

bool FillMissing(L1Cache& l1, KeyId id) {
  return l1.CompleteMissingFill(id, l1.BeginFactsFill(id));
}

bool FillUserList(L1Cache& l1, const std::string& owner, const std::string& body) {
  const FillTicket ticket = l1.BeginUserListFill(owner);
  return l1.CompleteUserListFill(owner, std::make_shared<const std::string>(body), ticket);
}

TEST(L1CacheTest, FactsFillThenHit) {
  ManualClock clock;
  L1Cache l1(Options(1 << 20), clock);
  EXPECT_FALSE(l1.GetFacts(1).has_value());
  ASSERT_TRUE(Fill(l1, Facts(1, "owner", {"users:read"})));
  auto got = l1.GetFacts(1);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ((*got)->owner_id, "owner");
  EXPECT_EQ(l1.Sizes().validation, 1u);
}

TEST(L1CacheTest, FactsFillOvertakenByInvalidateKeyIsRejected) {
  ManualClock clock;
  L1Cache l1(Options(1 << 20), clock);
  const FactsFillTicket ticket = l1.BeginFactsFill(1);
  l1.InvalidateKey(1);  // e.g. a revocation committed while the fill was reading
  EXPECT_FALSE(l1.CompleteFactsFill(1, Facts(1, "owner", {}), ticket));
  EXPECT_FALSE(l1.CompleteMissingFill(1, ticket));
  EXPECT_FALSE(l1.GetFacts(1).has_value());
  EXPECT_FALSE(l1.IsKnownMissing(1));
}

TEST(L1CacheTest, FactsFillOvertakenByClearIsRejected) {
  ManualClock clock;
  L1Cache l1(Options(1 << 20), clock);
  FactsFillTicket ticket = l1.BeginFactsFill(1);
  l1.Clear(CacheType::kValidation);
  EXPECT_FALSE(l1.CompleteFactsFill(1, Facts(1, "owner", {}), ticket));
  ticket = l1.BeginFactsFill(1);
  l1.ClearAll();
  EXPECT_FALSE(l1.CompleteMissingFill(1, ticket));
  EXPECT_FALSE(l1.GetFacts(1).has_value());
  EXPECT_FALSE(l1.IsKnownMissing(1));
}

TEST(L1CacheTest, NegativeEntriesAndTheirInvalidation) {
  ManualClock clock;
  L1Cache l1(Options(1 << 20), clock);
  EXPECT_FALSE(l1.IsKnownMissing(5));
  ASSERT_TRUE(FillMissing(l1, 5));
  EXPECT_TRUE(l1.IsKnownMissing(5));
  l1.InvalidateKey(5);  // the key was created
  EXPECT_FALSE(l1.IsKnownMissing(5));

  ASSERT_TRUE(FillMissing(l1, 6));
  ASSERT_TRUE(Fill(l1, Facts(6, "owner", {})));  // found after all: the negative entry goes
  EXPECT_FALSE(l1.IsKnownMissing(6));
}

TEST(L1CacheTest, EachCacheHasItsOwnTtl) {
  ManualClock clock;
  L1Options options = Options(1 << 20);
  options.validation_ttl_ms = 300'000;
  options.scope_ttl_ms = 600'000;
  options.user_list_ttl_ms = 1'800'000;
  options.negative_ttl_ms = 30'000;
  L1Cache l1(options, clock);
  ASSERT_TRUE(Fill(l1, Facts(1, "owner", {"users:read"})));
  l1.PutScopeDecision(1, "users:read", true);
  ASSERT_TRUE(FillMissing(l1, 2));
  ASSERT_TRUE(FillUserList(l1, "owner", "[]"));

  clock.Advance(30'000 - 1);
  EXPECT_TRUE(l1.IsKnownMissing(2));
  clock.Advance(1);
  EXPECT_FALSE(l1.IsKnownMissing(2));
  EXPECT_TRUE(l1.GetFacts(1).has_value());

  clock.Advance(300'000 - 30'000);
  EXPECT_FALSE(l1.GetFacts(1).has_value());
  EXPECT_EQ(l1.GetScopeDecision(1, "users:read"), std::optional<bool>(true));

  clock.Advance(600'000 - 300'000);
  EXPECT_FALSE(l1.GetScopeDecision(1, "users:read").has_value());
  EXPECT_TRUE(l1.GetUserList("owner").has_value());

  clock.Advance(1'800'000 - 600'000);
  EXPECT_FALSE(l1.GetUserList("owner").has_value());
}

// A flood of random ids fills only the negative cache's own budget.
TEST(L1CacheTest, NegativeFloodDoesNotEvictValidationEntries) {
  ManualClock clock;
  L1Cache l1(Options(1 << 20), clock);
  constexpr KeyId kHot = 500;
  for (KeyId id = 1; id <= kHot; ++id) ASSERT_TRUE(Fill(l1, Facts(id, "owner", {"users:read"})));

  std::mt19937_64 rng(3);
  for (int i = 0; i < 100'000; ++i) {
    const KeyId random_id = rng() | (KeyId{1} << 63);
    ASSERT_FALSE(l1.GetFacts(random_id).has_value());
    if (!l1.IsKnownMissing(random_id)) FillMissing(l1, random_id);
  }

  for (KeyId id = 1; id <= kHot; ++id) EXPECT_TRUE(l1.GetFacts(id).has_value()) << id;
  const L1Sizes sizes = l1.Sizes();
  EXPECT_EQ(sizes.validation, kHot);
  EXPECT_GT(sizes.negative, 1'000u);
  EXPECT_LT(sizes.negative, 100'000u);  // bounded by its budget, so it evicted
  EXPECT_LE(sizes.bytes, sizes.capacity_bytes);
}

TEST(L1CacheTest, ScopeDecisionsAreDroppedPerKey) {
  ManualClock clock;
  L1Cache l1(Options(1 << 20), clock);
  ASSERT_TRUE(Fill(l1, Facts(1, "owner", {"users:read"})));
  ASSERT_TRUE(Fill(l1, Facts(2, "owner", {"users:read"})));
  l1.PutScopeDecision(1, "users:read", true);
  l1.PutScopeDecision(1, "reports:write", false);
  l1.PutScopeDecision(2, "users:read", true);
  EXPECT_EQ(l1.GetScopeDecision(1, "users:read"), std::optional<bool>(true));
  EXPECT_EQ(l1.GetScopeDecision(1, "reports:write"), std::optional<bool>(false));
  EXPECT_EQ(l1.Sizes().scope, 3u);

  l1.InvalidateKey(1);
  EXPECT_FALSE(l1.GetScopeDecision(1, "users:read").has_value());
  EXPECT_FALSE(l1.GetScopeDecision(1, "reports:write").has_value());
  EXPECT_EQ(l1.GetScopeDecision(2, "users:read"), std::optional<bool>(true));
  EXPECT_EQ(l1.Sizes().scope, 1u);  // stale entries are erased when looked up
}

TEST(L1CacheTest, ScopeDecisionIsStoredOnlyIfTheCachedFactsAgree) {
  ManualClock clock;
  L1Cache l1(Options(1 << 20), clock);
  l1.PutScopeDecision(1, "users:read", true);  // no facts cached
  EXPECT_FALSE(l1.GetScopeDecision(1, "users:read").has_value());

  ASSERT_TRUE(Fill(l1, Facts(1, "owner", {"users:read"})));
  l1.PutScopeDecision(1, "users:write", true);  // contradicts the cached facts
  EXPECT_FALSE(l1.GetScopeDecision(1, "users:write").has_value());
  l1.PutScopeDecision(1, "users:write", false);
  EXPECT_EQ(l1.GetScopeDecision(1, "users:write"), std::optional<bool>(false));
}

// A verifier read the old facts (users:*), the scope was narrowed and invalidated, and only then
// did the verifier put its decision: it must not become reachable, refilled facts or not.
TEST(L1CacheTest, DecisionFromOvertakenFactsIsNeverReachable) {
  ManualClock clock;
  L1Cache l1(Options(1 << 20), clock);
  ASSERT_TRUE(Fill(l1, Facts(1, "owner", {"users:*"})));
  auto old_facts = l1.GetFacts(1);
  ASSERT_TRUE(old_facts.has_value());

  l1.InvalidateKey(1);
  l1.PutScopeDecision(1, "users:write", true);  // facts not refilled yet
  EXPECT_FALSE(l1.GetScopeDecision(1, "users:write").has_value());

  ASSERT_TRUE(Fill(l1, Facts(1, "owner", {"users:read"})));
  l1.PutScopeDecision(1, "users:write", true);  // refilled with the narrower scopes
  EXPECT_FALSE(l1.GetScopeDecision(1, "users:write").has_value());
}

TEST(L1CacheTest, UserListsAreDroppedPerOwnerAndFillsAreFenced) {
  ManualClock clock;
  L1Cache l1(Options(1 << 20), clock);
  ASSERT_TRUE(FillUserList(l1, "alice", R"({"keys":[1]})"));
  ASSERT_TRUE(FillUserList(l1, "bob", R"({"keys":[2]})"));
  auto alice = l1.GetUserList("alice");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(**alice, R"({"keys":[1]})");

  l1.InvalidateOwner("alice");
  EXPECT_FALSE(l1.GetUserList("alice").has_value());
  EXPECT_TRUE(l1.GetUserList("bob").has_value());

  const FillTicket ticket = l1.BeginUserListFill("alice");
  l1.InvalidateOwner("alice");  // alice created a key while her list was being read
  EXPECT_FALSE(l1.CompleteUserListFill(
      "alice", std::make_shared<const std::string>(R"({"keys":[1]})"), ticket));
  EXPECT_FALSE(l1.GetUserList("alice").has_value());
}

TEST(L1CacheTest, ClearByType) {
  ManualClock clock;
  L1Cache l1(Options(1 << 20), clock);
  auto fill_all = [&] {
    ASSERT_TRUE(Fill(l1, Facts(1, "owner", {"users:read"})));
    l1.PutScopeDecision(1, "users:read", true);
    ASSERT_TRUE(FillMissing(l1, 2));
    ASSERT_TRUE(FillUserList(l1, "owner", "[]"));
  };
  fill_all();

  l1.Clear(CacheType::kUsage);  // not held here
  L1Sizes s = l1.Sizes();
  EXPECT_EQ(s.validation + s.scope + s.negative + s.user_list, 4u);

  l1.Clear(CacheType::kScope);
  EXPECT_FALSE(l1.GetScopeDecision(1, "users:read").has_value());
  EXPECT_TRUE(l1.GetFacts(1).has_value());

  l1.PutScopeDecision(1, "users:read", true);
  l1.Clear(CacheType::kUserList);
  EXPECT_FALSE(l1.GetUserList("owner").has_value());
  EXPECT_TRUE(l1.GetScopeDecision(1, "users:read").has_value());

  l1.Clear(CacheType::kValidation);  // with the negative and scope entries derived from it
  s = l1.Sizes();
  EXPECT_EQ(s.validation + s.scope + s.negative, 0u);

  fill_all();
  l1.ClearAll();
  s = l1.Sizes();
  EXPECT_EQ(s.validation + s.scope + s.negative + s.user_list, 0u);
  EXPECT_EQ(s.bytes, 0u);
}

TEST(L1CacheTest, BudgetIsSplitAndHeld) {
  ManualClock clock;
  constexpr std::size_t kMaxBytes = 256 << 10;
  L1Cache l1(Options(kMaxBytes), clock);
  const std::string owner(40, 'o');
  for (KeyId id = 1; id <= 5'000; ++id) {
    Fill(l1, Facts(id, owner, {"users:read", "reports:read"}));
    l1.PutScopeDecision(id, "users:read", true);
    FillMissing(l1, id + 1'000'000);
    FillUserList(l1, owner + std::to_string(id), std::string(200, 'j'));
  }
  const L1Sizes s = l1.Sizes();
  EXPECT_LE(s.capacity_bytes, kMaxBytes);
  EXPECT_GE(s.capacity_bytes, kMaxBytes - 64);
  EXPECT_LE(s.bytes, s.capacity_bytes);
  EXPECT_GT(s.validation, 0u);
  EXPECT_LT(s.validation, 5'000u);
}

TEST(L1CacheTest, CacheTypeNames) {
  EXPECT_EQ(CacheTypeName(CacheType::kValidation), "validation");
  EXPECT_EQ(CacheTypeName(CacheType::kScope), "scope");
  EXPECT_EQ(CacheTypeName(CacheType::kUserList), "user_list");
  EXPECT_EQ(CacheTypeName(CacheType::kUsage), "usage");
}

}  // namespace
}  // namespace keycache
