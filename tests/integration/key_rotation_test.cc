// Key rotation over real HTTP: the replacement key, the old key's grace period, and conflicts.
#include <gtest/gtest.h>

#include "integration/integration_util.h"

namespace keycache::testing {
namespace {

class IntegRotation : public ServerTest<IntegRotation> {};

TEST_F(IntegRotation, RotateWithoutGraceRefusesTheOldKeyAtOnce) {
  const std::string owner = UniqueOwner("rotate");
  const CreatedKey old = CreateKey(api(), owner, {"reports:read"});
  ASSERT_EQ(Verify(api(), old.key).Str("code"), "VALID");  // now cached

  const Reply rotated =
      api().Admin(http::verb::post, "/v1/keys/" + old.id + "/rotate", R"({"grace_seconds":0})");
  ASSERT_EQ(rotated.status, 201u) << rotated.Describe();
  const std::string new_key = rotated.Str("key");
  const std::string new_id = rotated.Str("id");
  EXPECT_NE(new_key, old.key);
  EXPECT_NE(new_id, old.id);
  EXPECT_EQ(new_key.substr(4, 11), new_id);
  const auto* from = Member(rotated.json, {"rotated_from", "id"});
  ASSERT_NE(from, nullptr) << rotated.Describe();
  EXPECT_EQ(*from, JsonStr(old.id));
  const auto* record = Member(rotated.json, {"record"});
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->at("owner_id"), JsonStr(owner));
  EXPECT_EQ(record->at("scopes"), (boost::json::array{"reports:read"}));
  ExpectNoSecretMembers(record->as_object());

  EXPECT_EQ(Verify(api(), old.key).Str("code"), "REVOKED");
  EXPECT_EQ(Auth(api(), old.key).status, 401u);
  EXPECT_EQ(Verify(api(), new_key, {"reports:read"}).Str("code"), "VALID");
  const Reply old_record = api().Admin(http::verb::get, "/v1/keys/" + old.id);
  EXPECT_EQ(old_record.Str("state"), "revoked") << old_record.Describe();
  EXPECT_EQ(old_record.Str("replaced_by"), new_id);
}

TEST_F(IntegRotation, RotateWithGraceKeepsTheOldKeyUntilTheGraceEnds) {
  const CreatedKey old = CreateKey(api(), UniqueOwner("grace"));
  ASSERT_EQ(Verify(api(), old.key).Str("code"), "VALID");
  const Reply rotated =
      api().Admin(http::verb::post, "/v1/keys/" + old.id + "/rotate", R"({"grace_seconds":2})");
  ASSERT_EQ(rotated.status, 201u) << rotated.Describe();
  const std::string new_key = rotated.Str("key");

  EXPECT_EQ(Verify(api(), old.key).Str("code"), "VALID") << "inside the grace period";
  EXPECT_EQ(Verify(api(), new_key).Str("code"), "VALID");
  const Reply old_record = api().Admin(http::verb::get, "/v1/keys/" + old.id);
  EXPECT_EQ(old_record.Str("state"), "active") << old_record.Describe();
  EXPECT_TRUE(old_record.Object().at("revoked_at").is_string());

  std::string last;
  EXPECT_TRUE(PollUntil([&] { return (last = Verify(api(), old.key).Str("code")) == "REVOKED"; },
                        20s, 100ms))
      << "the old key is still " << last << " long after its 2 s grace period";
  EXPECT_EQ(Auth(api(), old.key).Str("code"), "REVOKED");
  EXPECT_EQ(Verify(api(), new_key).Str("code"), "VALID");
}

TEST_F(IntegRotation, RotatingTwiceOrRotatingARevokedKeyIsAConflict) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("twice"));
  const std::string rotate = "/v1/keys/" + k.id + "/rotate";
  const Reply first = api().Admin(http::verb::post, rotate, R"({"grace_seconds":60})");
  ASSERT_EQ(first.status, 201u) << first.Describe();
  ExpectApiError(api().Admin(http::verb::post, rotate, R"({"grace_seconds":60})"), 409, "",
                 "second rotation inside the grace period");
  ExpectApiError(api().Admin(http::verb::post, rotate, ""), 409, "", "second rotation, no body");

  const CreatedKey revoked = CreateKey(api(), UniqueOwner("twice"));
  ASSERT_EQ(api().Admin(http::verb::post, "/v1/keys/" + revoked.id + "/revoke").status, 200u);
  ExpectApiError(api().Admin(http::verb::post, "/v1/keys/" + revoked.id + "/rotate"), 409, "",
                 "rotating a revoked key");

  // The replacement itself can be rotated.
  const Reply chained = api().Admin(http::verb::post, "/v1/keys/" + first.Str("id") + "/rotate");
  EXPECT_EQ(chained.status, 201u) << chained.Describe();
}

}  // namespace
}  // namespace keycache::testing
