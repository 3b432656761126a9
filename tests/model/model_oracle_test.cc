// The oracle's own rules, on hand-made histories: the bound, overlapping requests, ambiguous
// changes, time-based transitions, scope matching and the staleness it measures.
#include "model/model_oracle.h"

#include <gtest/gtest.h>

namespace keycache::testing::model {
namespace {

constexpr Ms kBound = 1250, kSlack = 250;

KeyState Active(std::vector<std::string> scopes = {}) {
  KeyState s;
  s.exists = true;
  s.scopes = std::move(scopes);
  return s;
}

Judgement JudgeCode(const KeyHistory& h, std::string code, Ms s, Ms r,
                    std::vector<std::string> required = {}) {
  return h.Judge({std::move(code), std::nullopt}, s, r, required, kBound, kSlack);
}

TEST(ModelOracle, ScopeMatchingFollowsTheApi) {
  EXPECT_TRUE(ScopeCovers("users:read", "users:read"));
  EXPECT_FALSE(ScopeCovers("users:read", "users:write"));
  EXPECT_TRUE(ScopeCovers("users:*", "users:write"));
  EXPECT_TRUE(ScopeCovers("*:read", "reports:read"));
  EXPECT_TRUE(ScopeCovers("*", "billing:admin"));
  EXPECT_FALSE(ScopeCovers("users:read", "users:*"));
  EXPECT_TRUE(ScopeCovers("*", "*"));
  EXPECT_TRUE(ScopeCovers("*:*", "*"));
}

TEST(ModelOracle, VerdictsHaveTheDocumentedPrecedence) {
  KeyState s = Active({"users:read"});
  s.revoked_at = 100;
  s.enabled = false;
  s.expires_at = 50;
  EXPECT_EQ(Decide(s, 200, {"billing:admin"}), kRevoked);
  s.revoked_at = kNever;
  EXPECT_EQ(Decide(s, 200, {"billing:admin"}), kDisabled);
  s.enabled = true;
  EXPECT_EQ(Decide(s, 200, {"billing:admin"}), kExpired);
  s.expires_at = kNever;
  EXPECT_EQ(Decide(s, 200, {"billing:admin"}), kInsufficientScope);
  EXPECT_EQ(Decide(s, 200, {"users:read"}), kValid);
  EXPECT_EQ(Decide(KeyState{}, 200, {}), kNotFound);
}

TEST(ModelOracle, AnAcknowledgedChangeIsInForceAfterTheBound) {
  KeyHistory h;
  h.Acked(Active(), 0, 10, "create", "");
  KeyState revoked = Active();
  revoked.revoked_at = 1000;
  h.Acked(revoked, 990, 1000, "revoke", "");
  EXPECT_TRUE(JudgeCode(h, "VALID", 1500, 1510).allowed) << "inside the bound";
  EXPECT_TRUE(JudgeCode(h, "REVOKED", 1500, 1510).allowed);
  const Judgement late = JudgeCode(h, "VALID", 2300, 2310);
  EXPECT_FALSE(late.allowed) << "sent after ack + bound";
  EXPECT_EQ(late.expected, "revoke: REVOKED");
  ASSERT_TRUE(late.staleness.has_value()) << "a violation is measured too";
  EXPECT_EQ(*late.staleness, 1300);
  EXPECT_TRUE(JudgeCode(h, "REVOKED", 2300, 2310).allowed);
}

TEST(ModelOracle, ARequestOverlappingAChangeMaySeeEitherButNotTheFuture) {
  KeyHistory h;
  h.Acked(Active(), 0, 10, "create", "");
  KeyState revoked = Active();
  revoked.revoked_at = 1000;
  h.Acked(revoked, 990, 1000, "revoke", "");
  EXPECT_TRUE(JudgeCode(h, "REVOKED", 900, 995).allowed) << "the revoke was sent before 995";
  EXPECT_FALSE(JudgeCode(h, "REVOKED", 500, 600).allowed) << "answered before the revoke was sent";
  EXPECT_TRUE(JudgeCode(h, "NOT_FOUND", 5, 8).allowed) << "the create was not acknowledged yet";
  EXPECT_FALSE(JudgeCode(h, "NOT_FOUND", 1300, 1310).allowed);
}

TEST(ModelOracle, AChangeInFlightMayBeSeenOnceSent) {
  KeyHistory h;
  h.Acked(Active(), 0, 10, "create", "");
  KeyState disabled = Active();
  disabled.enabled = false;
  h.Ambiguous(disabled, 1000, "patch enabled=false");  // sent, no answer yet
  EXPECT_TRUE(JudgeCode(h, "DISABLED", 990, 1005).allowed);
  EXPECT_FALSE(JudgeCode(h, "DISABLED", 900, 950).allowed) << "answered before it was sent";
  h.Acknowledge(disabled, 1020, "");
  EXPECT_FALSE(h.unresolved());
  EXPECT_TRUE(JudgeCode(h, "VALID", 2000, 2010).allowed);
  EXPECT_FALSE(JudgeCode(h, "VALID", 2300, 2310).allowed);
}

TEST(ModelOracle, AnAmbiguousChangeAllowsBothUntilResolved) {
  KeyHistory h;
  h.Acked(Active(), 0, 10, "create", "");
  KeyState disabled = Active();
  disabled.enabled = false;
  h.Ambiguous(disabled, 2000, "patch enabled=false");
  EXPECT_TRUE(h.unresolved());
  EXPECT_TRUE(JudgeCode(h, "VALID", 9000, 9010).allowed);
  EXPECT_TRUE(JudgeCode(h, "DISABLED", 9000, 9010).allowed);

  KeyHistory took = h;
  took.Resolve(disabled, 10'000);
  EXPECT_FALSE(took.unresolved());
  EXPECT_TRUE(JudgeCode(took, "VALID", 10'500, 10'510).allowed) << "bound runs from resolution";
  EXPECT_FALSE(JudgeCode(took, "VALID", 11'300, 11'310).allowed);

  KeyHistory lost = h;
  lost.Resolve(Active(), 10'000);
  EXPECT_EQ(lost.versions().back().status, Version::Status::kVoid);
  EXPECT_TRUE(lost.latest().enabled) << "a change that did not happen is not the latest state";
  EXPECT_TRUE(JudgeCode(lost, "VALID", 11'300, 11'310).allowed);
  EXPECT_FALSE(JudgeCode(lost, "DISABLED", 11'300, 11'310).allowed);
}

TEST(ModelOracle, TimeBasedTransitionsAllowEitherSideNearTheTransition) {
  KeyHistory h;
  KeyState s = Active();
  s.expires_at = 5000;
  h.Acked(s, 0, 10, "create", "");
  EXPECT_TRUE(JudgeCode(h, "EXPIRED", 4800, 4810).allowed) << "within the slack before";
  EXPECT_TRUE(JudgeCode(h, "VALID", 5100, 5110).allowed) << "within the slack after";
  EXPECT_FALSE(JudgeCode(h, "VALID", 5300, 5310).allowed);
  EXPECT_FALSE(JudgeCode(h, "EXPIRED", 4000, 4010).allowed);

  KeyHistory grace;
  grace.Acked(Active(), 0, 10, "create", "");
  KeyState rotated = Active();
  rotated.revoked_at = 3000;  // rotated at 1000 with 2 s of grace
  grace.Acked(rotated, 990, 1000, "rotate grace=2s", "");
  EXPECT_TRUE(JudgeCode(grace, "VALID", 2500, 2510).allowed);
  EXPECT_FALSE(JudgeCode(grace, "VALID", 3300, 3310).allowed);
}

TEST(ModelOracle, ReportedScopesMustMatchAnAllowedVersion) {
  KeyHistory h;
  h.Acked(Active({"users:read"}), 0, 10, "create", "");
  h.Acked(Active({"reports:read"}), 990, 1000, "patch scopes", "");
  const std::vector<std::string> old_scopes = {"users:read"}, new_scopes = {"reports:read"};
  EXPECT_TRUE(h.Judge({"VALID", old_scopes}, 1100, 1110, {}, kBound, kSlack).allowed);
  EXPECT_FALSE(h.Judge({"VALID", old_scopes}, 2400, 2410, {}, kBound, kSlack).allowed);
  EXPECT_TRUE(h.Judge({"VALID", new_scopes}, 2400, 2410, {}, kBound, kSlack).allowed);
  EXPECT_TRUE(JudgeCode(h, "INSUFFICIENT_SCOPE", 2400, 2410, {"users:read"}).allowed);
  EXPECT_FALSE(JudgeCode(h, "VALID", 2400, 2410, {"users:read"}).allowed);
}

TEST(ModelOracle, StalenessIsTheAgeOfTheNewestChangeAnAnswerMissed) {
  KeyHistory h;
  h.Acked(Active(), 0, 10, "create", "");
  KeyState revoked = Active();
  revoked.revoked_at = 1000;
  h.Acked(revoked, 990, 1000, "revoke", "silent_cut");
  const Judgement stale = JudgeCode(h, "VALID", 1800, 1810);
  ASSERT_TRUE(stale.staleness.has_value());
  EXPECT_EQ(*stale.staleness, 800);
  EXPECT_EQ(stale.stale_fault, "silent_cut");
  EXPECT_FALSE(JudgeCode(h, "REVOKED", 1800, 1810).staleness.has_value());
}

}  // namespace
}  // namespace keycache::testing::model
