#include "core/key_record.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/verify_code.h"

namespace keycache {
namespace {

constexpr TimeMs kNow = 1'700'000'000'000;

TEST(KeyRecord, StateNames) {
  EXPECT_EQ(KeyStateName(KeyState::kActive), "active");
  EXPECT_EQ(KeyStateName(KeyState::kDisabled), "disabled");
  EXPECT_EQ(KeyStateName(KeyState::kRevoked), "revoked");
  EXPECT_EQ(KeyStateName(KeyState::kExpired), "expired");
}

TEST(KeyRecord, DefaultRecordIsActiveForever) {
  EXPECT_EQ(StateAt(KeyRecord{}, kNow), KeyState::kActive);
  EXPECT_EQ(StateAt(KeyRecord{}, kNever - 1), KeyState::kActive);
}

TEST(KeyRecord, BoundariesAreInclusiveAtNow) {
  KeyRecord r;
  r.expires_at = kNow;
  EXPECT_EQ(StateAt(r, kNow - 1), KeyState::kActive);
  EXPECT_EQ(StateAt(r, kNow), KeyState::kExpired);

  r = KeyRecord{};
  r.revoked_at = kNow;  // a rotated key keeps working until revoked_at
  EXPECT_EQ(StateAt(r, kNow - 1), KeyState::kActive);
  EXPECT_EQ(StateAt(r, kNow), KeyState::kRevoked);
}

TEST(KeyRecord, RevokedBeatsDisabledBeatsExpired) {
  KeyRecord r;
  r.revoked_at = kNow - 10;
  r.enabled = false;
  r.expires_at = kNow - 20;
  EXPECT_EQ(StateAt(r, kNow), KeyState::kRevoked);
  r.revoked_at = kNever;
  EXPECT_EQ(StateAt(r, kNow), KeyState::kDisabled);
  r.enabled = true;
  EXPECT_EQ(StateAt(r, kNow), KeyState::kExpired);
}

TEST(VerifyCode, NamesAreTheDocumentedOnesAndDistinct) {
  EXPECT_EQ(VerifyCodeName(VerifyCode::kValid), "VALID");
  EXPECT_EQ(VerifyCodeName(VerifyCode::kMalformed), "MALFORMED");
  EXPECT_EQ(VerifyCodeName(VerifyCode::kNotFound), "NOT_FOUND");
  EXPECT_EQ(VerifyCodeName(VerifyCode::kExpired), "EXPIRED");
  EXPECT_EQ(VerifyCodeName(VerifyCode::kDisabled), "DISABLED");
  EXPECT_EQ(VerifyCodeName(VerifyCode::kRevoked), "REVOKED");
  EXPECT_EQ(VerifyCodeName(VerifyCode::kInsufficientScope), "INSUFFICIENT_SCOPE");
  std::set<std::string_view> names;
  for (int i = 0; i < kVerifyCodeCount; ++i)
    names.insert(VerifyCodeName(static_cast<VerifyCode>(i)));
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kVerifyCodeCount));
}

}  // namespace
}  // namespace keycache
