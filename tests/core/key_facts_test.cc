#include "core/key_facts.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keycache {
namespace {

constexpr TimeMs kNow = 1'700'000'000'000;

KeyHash HashOf(std::uint8_t fill) {
  KeyHash h;
  h.fill(fill);
  return h;
}

KeyFacts ActiveFacts() {
  KeyFacts f;
  f.id = 7;
  f.hash = HashOf(1);
  f.owner_id = "user-1";
  f.scopes = {"users:read", "reports:*"};
  return f;
}

VerifyCode DecideWith(const KeyFacts& f, const KeyHash& presented,
                      std::vector<std::string> required = {}) {
  return Decide(f, presented, kNow, required);
}

TEST(KeyFacts, FromCopiesTheVerificationFields) {
  KeyRecord r;
  r.id = 99;
  r.owner_id = "owner";
  r.name = "ci key";
  r.scopes = {"a:b", "*:read"};
  r.hash = HashOf(5);
  r.expires_at = 123;
  r.revoked_at = 456;
  r.enabled = false;
  const KeyFacts f = KeyFacts::From(r);
  EXPECT_EQ(f.id, 99u);
  EXPECT_EQ(f.owner_id, "owner");
  EXPECT_EQ(f.scopes, r.scopes);
  EXPECT_EQ(f.hash, r.hash);
  EXPECT_EQ(f.expires_at, 123);
  EXPECT_EQ(f.revoked_at, 456);
  EXPECT_FALSE(f.enabled);
}

TEST(Decide, ValidKey) {
  EXPECT_EQ(DecideWith(ActiveFacts(), HashOf(1)), VerifyCode::kValid);
  EXPECT_EQ(DecideWith(ActiveFacts(), HashOf(1), {"users:read", "reports:x"}), VerifyCode::kValid);
}

TEST(Decide, HashMismatchIsNotFoundWhateverTheRecordSays) {
  KeyFacts f = ActiveFacts();
  f.revoked_at = kNow - 1;
  f.enabled = false;
  f.expires_at = kNow - 1;
  KeyHash almost = HashOf(1);
  almost[31] ^= 1;
  EXPECT_EQ(DecideWith(f, almost, {"admin:all"}), VerifyCode::kNotFound);
  EXPECT_EQ(DecideWith(ActiveFacts(), HashOf(2)), VerifyCode::kNotFound);
}

TEST(Decide, RevokedBeatsDisabledBeatsExpiredBeatsScope) {
  KeyFacts f = ActiveFacts();
  f.revoked_at = kNow;
  f.enabled = false;
  f.expires_at = kNow;
  const std::vector<std::string> missing = {"admin:all"};
  EXPECT_EQ(DecideWith(f, HashOf(1), missing), VerifyCode::kRevoked);
  f.revoked_at = kNow + 1;  // revocation scheduled by a rotation: not yet effective
  EXPECT_EQ(DecideWith(f, HashOf(1), missing), VerifyCode::kDisabled);
  f.enabled = true;
  EXPECT_EQ(DecideWith(f, HashOf(1), missing), VerifyCode::kExpired);
  f.expires_at = kNow + 1;
  EXPECT_EQ(DecideWith(f, HashOf(1), missing), VerifyCode::kInsufficientScope);
  EXPECT_EQ(DecideWith(f, HashOf(1)), VerifyCode::kValid);
}

TEST(Decide, EveryRequiredScopeMustBeCovered) {
  const KeyFacts f = ActiveFacts();
  EXPECT_EQ(DecideWith(f, HashOf(1), {"users:read", "users:write"}),
            VerifyCode::kInsufficientScope);
  EXPECT_EQ(DecideWith(f, HashOf(1), {"users:write", "users:read"}),
            VerifyCode::kInsufficientScope);
  EXPECT_EQ(DecideWith(f, HashOf(1), {"reports:*"}), VerifyCode::kValid);
  EXPECT_EQ(DecideWith(f, HashOf(1), {"*:read"}), VerifyCode::kInsufficientScope);

  KeyFacts none = ActiveFacts();
  none.scopes.clear();
  EXPECT_EQ(DecideWith(none, HashOf(1)), VerifyCode::kValid);
  EXPECT_EQ(DecideWith(none, HashOf(1), {"users:read"}), VerifyCode::kInsufficientScope);
}

}  // namespace
}  // namespace keycache
