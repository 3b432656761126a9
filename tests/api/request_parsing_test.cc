// The strict JSON body parsers of the REST API: what each accepts, and that everything else
// (unknown fields, wrong types, out-of-range values, bad JSON) is refused with a 400 that names
// the problem.
#include "api/request_parsing.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "util/time_format.h"

namespace keycache {
namespace {

constexpr TimeMs kNow = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
constexpr TimeMs kDay = 86'400'000;

template <class T>
void ExpectRejected(Parsed<T> p, std::string_view mentions = "", unsigned status = 400) {
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().status, status);
  EXPECT_FALSE(p.error().error.empty());
  EXPECT_NE(p.error().message.find(mentions), std::string::npos) << p.error().message;
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

// ---- create ----

TEST(ParseCreateKeyTest, AcceptsTheMinimalBody) {
  auto p = ParseCreateKey(R"({"owner_id":"user-1","name":"ci","scopes":[]})", kNow);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p.value().owner_id, "user-1");
  EXPECT_EQ(p.value().name, "ci");
  EXPECT_TRUE(p.value().scopes.empty());
  EXPECT_EQ(p.value().expires_at, kNever);
  EXPECT_EQ(p.value().metadata_json, "");
}

TEST(ParseCreateKeyTest, AcceptsEveryFieldAndDeduplicatesScopes) {
  auto p = ParseCreateKey(
      R"({"owner_id":"user-1","name":"Prod","scopes":["users:read","*:read","users:read","*"],
          "expires_in_days":30,"metadata":{"team":"billing","n":1}})",
      kNow);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p.value().scopes, (std::vector<std::string>{"users:read", "*:read", "*"}));
  EXPECT_EQ(p.value().expires_at, kNow + 30 * kDay);
  EXPECT_EQ(p.value().metadata_json, R"({"team":"billing","n":1})");
}

TEST(ParseCreateKeyTest, AcceptsAnExpiryTimestampInTheFuture) {
  const std::string at = FormatRfc3339(kNow + 1000);
  auto p = ParseCreateKey(
      R"({"owner_id":"u","name":"n","scopes":[],"expires_at":)" + Quoted(at) + "}", kNow);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p.value().expires_at, kNow + 1000);
  auto offset = ParseCreateKey(
      R"({"owner_id":"u","name":"n","scopes":[],"expires_at":"2030-01-01T02:00:00+02:00"})", kNow);
  ASSERT_TRUE(offset.ok()) << offset.error().message;
  EXPECT_EQ(offset.value().expires_at, *ParseRfc3339("2030-01-01T00:00:00Z"));
}

TEST(ParseCreateKeyTest, ExpiryBounds) {
  auto body = [](const std::string& expiry) {
    return R"({"owner_id":"u","name":"n","scopes":[],)" + expiry + "}";
  };
  ASSERT_TRUE(ParseCreateKey(body(R"("expires_in_days":1)"), kNow).ok());
  auto max = ParseCreateKey(body(R"("expires_in_days":3650)"), kNow);
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max.value().expires_at, kNow + 3650 * kDay);
  ExpectRejected(ParseCreateKey(body(R"("expires_in_days":0)"), kNow), "expires_in_days");
  ExpectRejected(ParseCreateKey(body(R"("expires_in_days":-1)"), kNow), "expires_in_days");
  ExpectRejected(ParseCreateKey(body(R"("expires_in_days":3651)"), kNow), "expires_in_days");
  ExpectRejected(ParseCreateKey(body(R"("expires_in_days":1.5)"), kNow), "expires_in_days");
  ExpectRejected(ParseCreateKey(body(R"("expires_in_days":"30")"), kNow), "expires_in_days");
  ExpectRejected(ParseCreateKey(body(R"("expires_in_days":18446744073709551615)"), kNow),
                 "expires_in_days");
  ExpectRejected(ParseCreateKey(body(R"("expires_in_days":null)"), kNow), "expires_in_days");

  ExpectRejected(ParseCreateKey(body(R"("expires_at":)" + Quoted(FormatRfc3339(kNow))), kNow),
                 "future");
  ExpectRejected(ParseCreateKey(body(R"("expires_at":)" + Quoted(FormatRfc3339(kNow - 1))), kNow),
                 "future");
  ExpectRejected(ParseCreateKey(body(R"("expires_at":"tomorrow")"), kNow), "expires_at");
  ExpectRejected(ParseCreateKey(body(R"("expires_at":"2030-02-30T00:00:00Z")"), kNow),
                 "expires_at");
  ExpectRejected(ParseCreateKey(body(R"("expires_at":1900000000000)"), kNow), "expires_at");
  ExpectRejected(ParseCreateKey(body(R"("expires_at":null)"), kNow), "expires_at");
}

TEST(ParseCreateKeyTest, RefusesBothExpiryFields) {
  ExpectRejected(ParseCreateKey(R"({"owner_id":"u","name":"n","scopes":[],"expires_in_days":1,
                         "expires_at":"2030-01-01T00:00:00Z"})",
                                kNow),
                 "not both");
}

TEST(ParseCreateKeyTest, RefusesUnknownFieldsAndNamesThem) {
  ExpectRejected(ParseCreateKey(R"({"owner_id":"u","name":"n","scopes":[],"admin":true})", kNow),
                 "'admin'");
  ExpectRejected(ParseCreateKey(R"({"owner_id":"u","name":"n","scopes":[],"Name":"x"})", kNow),
                 "'Name'");
}

TEST(ParseCreateKeyTest, RequiresOwnerNameAndScopes) {
  ExpectRejected(ParseCreateKey(R"({"name":"n","scopes":[]})", kNow), "owner_id");
  ExpectRejected(ParseCreateKey(R"({"owner_id":"u","scopes":[]})", kNow), "name");
  ExpectRejected(ParseCreateKey(R"({"owner_id":"u","name":"n"})", kNow), "scopes");
}

TEST(ParseCreateKeyTest, RefusesWrongTypes) {
  ExpectRejected(ParseCreateKey(R"({"owner_id":42,"name":"n","scopes":[]})", kNow), "owner_id");
  ExpectRejected(ParseCreateKey(R"({"owner_id":null,"name":"n","scopes":[]})", kNow), "owner_id");
  ExpectRejected(ParseCreateKey(R"({"owner_id":"u","name":["n"],"scopes":[]})", kNow), "name");
  ExpectRejected(ParseCreateKey(R"({"owner_id":"u","name":"n","scopes":"users:read"})", kNow),
                 "scopes");
  ExpectRejected(ParseCreateKey(R"({"owner_id":"u","name":"n","scopes":[1]})", kNow), "scopes");
  ExpectRejected(ParseCreateKey(R"({"owner_id":"u","name":"n","scopes":{}})", kNow), "scopes");
  ExpectRejected(ParseCreateKey(R"({"owner_id":"u","name":"n","scopes":[],"metadata":"x"})", kNow),
                 "metadata");
  ExpectRejected(ParseCreateKey(R"({"owner_id":"u","name":"n","scopes":[],"metadata":[1]})", kNow),
                 "metadata");
  auto null_metadata =
      ParseCreateKey(R"({"owner_id":"u","name":"n","scopes":[],"metadata":null})", kNow);
  ASSERT_TRUE(null_metadata.ok());
  EXPECT_EQ(null_metadata.value().metadata_json, "");
}

TEST(ParseCreateKeyTest, FieldBounds) {
  auto body = [](const std::string& owner, const std::string& name) {
    return R"({"owner_id":)" + Quoted(owner) + R"(,"name":)" + Quoted(name) + R"(,"scopes":[]})";
  };
  EXPECT_TRUE(ParseCreateKey(body(std::string(128, 'o'), std::string(100, 'n')), kNow).ok());
  ExpectRejected(ParseCreateKey(body(std::string(129, 'o'), "n"), kNow), "owner_id");
  ExpectRejected(ParseCreateKey(body("", "n"), kNow), "owner_id");
  ExpectRejected(ParseCreateKey(body("a/b", "n"), kNow), "owner_id");
  ExpectRejected(ParseCreateKey(body("a\\nb", "n"), kNow), "owner_id");
  ExpectRejected(ParseCreateKey(body("u", std::string(101, 'n')), kNow), "name");
  ExpectRejected(ParseCreateKey(body("u", ""), kNow), "name");
  ExpectRejected(ParseCreateKey(body("u", "tab\\there"), kNow), "name");
}

TEST(ParseCreateKeyTest, ScopeBounds) {
  auto body = [](int n, const std::string& scope_prefix) {
    std::string scopes;
    for (int i = 0; i < n; ++i) {
      scopes += (i ? "," : "") + Quoted(scope_prefix + std::to_string(i) + ":read");
    }
    return R"({"owner_id":"u","name":"n","scopes":[)" + scopes + "]}";
  };
  auto max = ParseCreateKey(body(64, "r"), kNow);
  ASSERT_TRUE(max.ok()) << max.error().message;
  EXPECT_EQ(max.value().scopes.size(), 64u);
  ExpectRejected(ParseCreateKey(body(65, "r"), kNow), "64");
  for (const char* bad : {"users", "users:", ":read", "users:read:x", "us ers:read", ""}) {
    SCOPED_TRACE(bad);
    ExpectRejected(
        ParseCreateKey(R"({"owner_id":"u","name":"n","scopes":[)" + Quoted(bad) + "]}", kNow),
        "scope");
  }
}

TEST(ParseCreateKeyTest, MetadataSizeBound) {
  auto body = [](std::size_t value_chars) {  // serialises to {"a":"xxx"}: value_chars + 8 bytes
    return R"({"owner_id":"u","name":"n","scopes":[],"metadata":{"a":")" +
           std::string(value_chars, 'x') + "\"}}";
  };
  auto max = ParseCreateKey(body(4096 - 8), kNow);
  ASSERT_TRUE(max.ok()) << max.error().message;
  EXPECT_EQ(max.value().metadata_json.size(), 4096u);
  ExpectRejected(ParseCreateKey(body(4096 - 7), kNow), "metadata");
}

// Found by tests/fuzz/request_json: 1e400 parsed to infinity and was stored as
// {"n":Infinity}, which is not JSON, so the key's metadata came back as null.
TEST(ParseCreateKeyTest, RefusesMetadataNumbersBeyondTheRangeOfADouble) {
  ExpectRejected(
      ParseCreateKey(R"({"owner_id":"u","name":"n","scopes":[],"metadata":{"n":1e400}})", kNow),
      "metadata");
  ExpectRejected(ParsePatchKey(R"({"metadata":{"a":[{"b":-2.5e999}]}})", kNow), "metadata");
  auto large = ParseCreateKey(
      R"({"owner_id":"u","name":"n","scopes":[],"metadata":{"n":1e308,"m":1e-400}})", kNow);
  ASSERT_TRUE(large.ok()) << large.error().message;
  boost::system::error_code ec;
  boost::json::parse(large.value().metadata_json, ec);
  EXPECT_FALSE(ec) << large.value().metadata_json;
}

// Found by tests/fuzz/request_json: boost::json 1.81 reads 2.1844674407370954 as
// 2.184467440737095 (one unit in the last place low), so the metadata stored, and later
// returned, was not the number sent, and its stored text did not read back as itself.
TEST(ParseCreateKeyTest, MetadataNumbersAreStoredAsSent) {
  auto p = ParseCreateKey(
      R"({"owner_id":"u","name":"n","scopes":[],"metadata":{"x":2.1844674407370954}})", kNow);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p.value().metadata_json, R"({"x":2.1844674407370954E0})");
  auto again = ParsePatchKey(R"({"metadata":)" + p.value().metadata_json + "}", kNow);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again.value().metadata_json, p.value().metadata_json);
}

TEST(ParseCreateKeyTest, RefusesBodiesThatAreNotAJsonObject) {
  ExpectRejected(ParseCreateKey("", kNow), "JSON object");
  ExpectRejected(ParseCreateKey("  \n", kNow), "JSON object");
  ExpectRejected(ParseCreateKey("[]", kNow), "JSON object");
  ExpectRejected(ParseCreateKey("\"x\"", kNow), "JSON object");
  ExpectRejected(ParseCreateKey("null", kNow), "JSON object");
  auto bad = ParseCreateKey(R"({"owner_id":"u",)", kNow);
  ExpectRejected(bad, "not valid JSON");
  EXPECT_EQ(bad.error().error, "invalid_json");
  ExpectRejected(ParseCreateKey(R"({"owner_id":"u"} trailing)", kNow), "JSON");
}

// ---- patch ----

TEST(ParsePatchKeyTest, AcceptsEachField) {
  auto name = ParsePatchKey(R"({"name":"renamed"})", kNow);
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name.value().name, "renamed");
  EXPECT_FALSE(name.value().scopes || name.value().expires_at || name.value().enabled ||
               name.value().metadata_json);

  auto all = ParsePatchKey(R"({"name":"n","scopes":["a:b","a:b"],"enabled":false,
                               "expires_at":"2030-01-01T00:00:00Z","metadata":{"k":"v"}})",
                           kNow);
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(all.value().scopes, std::vector<std::string>{"a:b"});
  EXPECT_EQ(all.value().enabled, std::optional<bool>(false));
  EXPECT_EQ(all.value().expires_at, ParseRfc3339("2030-01-01T00:00:00Z"));
  EXPECT_EQ(all.value().metadata_json, std::optional<std::string>(R"({"k":"v"})"));

  auto empty_scopes = ParsePatchKey(R"({"scopes":[]})", kNow);
  ASSERT_TRUE(empty_scopes.ok());
  ASSERT_TRUE(empty_scopes.value().scopes.has_value());
  EXPECT_TRUE(empty_scopes.value().scopes->empty());
}

TEST(ParsePatchKeyTest, NullClearsExpiryAndMetadata) {
  auto p = ParsePatchKey(R"({"expires_at":null,"metadata":null})", kNow);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p.value().expires_at, std::optional<TimeMs>(kNever));
  EXPECT_EQ(p.value().metadata_json, std::optional<std::string>(""));
}

TEST(ParsePatchKeyTest, Refusals) {
  ExpectRejected(ParsePatchKey("", kNow), "JSON object");
  ExpectRejected(ParsePatchKey("{}", kNow), "nothing to update");
  ExpectRejected(ParsePatchKey(R"({"owner_id":"other"})", kNow), "'owner_id'");
  ExpectRejected(ParsePatchKey(R"({"expires_in_days":3})", kNow), "'expires_in_days'");
  ExpectRejected(ParsePatchKey(R"({"enabled":"false"})", kNow), "enabled");
  ExpectRejected(ParsePatchKey(R"({"enabled":0})", kNow), "enabled");
  ExpectRejected(ParsePatchKey(R"({"enabled":null})", kNow), "enabled");
  ExpectRejected(ParsePatchKey(R"({"name":""})", kNow), "name");
  ExpectRejected(ParsePatchKey(R"({"name":null})", kNow), "name");
  ExpectRejected(ParsePatchKey(R"({"scopes":["bad"]})", kNow), "scope");
  ExpectRejected(ParsePatchKey(R"({"scopes":null})", kNow), "scopes");
  ExpectRejected(ParsePatchKey(R"({"expires_at":"2001-01-01T00:00:00Z"})", kNow), "future");
  ExpectRejected(ParsePatchKey(R"({"expires_at":5})", kNow), "expires_at");
  ExpectRejected(ParsePatchKey(R"({"metadata":true})", kNow), "metadata");
  ExpectRejected(ParsePatchKey("{\"name\":", kNow), "JSON");
}

// ---- revoke / rotate ----

TEST(ParseRevokeTest, EmptyBodiesAndEmptyReasonsMeanTheDefaultReason) {
  for (const char* body : {"", "   ", "{}", R"({"reason":""})"}) {
    SCOPED_TRACE(body);
    auto p = ParseRevoke(body);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p.value(), "revoked");
  }
  auto given = ParseRevoke(R"({"reason":"leaked in a log"})");
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(given.value(), "leaked in a log");
  auto max = ParseRevoke(R"({"reason":")" + std::string(200, 'r') + "\"}");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max.value().size(), 200u);
}

TEST(ParseRevokeTest, Refusals) {
  ExpectRejected(ParseRevoke(R"({"reason":")" + std::string(201, 'r') + "\"}"), "reason");
  ExpectRejected(ParseRevoke(R"({"reason":5})"), "reason");
  ExpectRejected(ParseRevoke(R"({"reason":null})"), "reason");
  ExpectRejected(ParseRevoke(R"({"reason":"a\u0000b"})"), "reason");
  ExpectRejected(ParseRevoke(R"({"reason":"x","why":"y"})"), "'why'");
  ExpectRejected(ParseRevoke("[]"), "JSON object");
  ExpectRejected(ParseRevoke("{"), "JSON");
}

TEST(ParseRotateTest, GraceInSeconds) {
  for (const char* body : {"", "{}"}) {
    auto p = ParseRotate(body);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p.value(), 0);
  }
  auto hour = ParseRotate(R"({"grace_seconds":3600})");
  ASSERT_TRUE(hour.ok());
  EXPECT_EQ(hour.value(), 3'600'000);
  auto max = ParseRotate(R"({"grace_seconds":2592000})");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max.value(), 2'592'000'000);
  auto zero = ParseRotate(R"({"grace_seconds":0})");
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero.value(), 0);
}

TEST(ParseRotateTest, Refusals) {
  ExpectRejected(ParseRotate(R"({"grace_seconds":2592001})"), "grace_seconds");
  ExpectRejected(ParseRotate(R"({"grace_seconds":-1})"), "grace_seconds");
  ExpectRejected(ParseRotate(R"({"grace_seconds":1.5})"), "grace_seconds");
  ExpectRejected(ParseRotate(R"({"grace_seconds":"60"})"), "grace_seconds");
  ExpectRejected(ParseRotate(R"({"grace_seconds":null})"), "grace_seconds");
  ExpectRejected(ParseRotate(R"({"grace":60})"), "'grace'");
  ExpectRejected(ParseRotate("60"), "JSON object");
}

// ---- ids, owners, verify ----

TEST(ParseKeyIdParamTest, AcceptsElevenBase62Characters) {
  const std::string text = KeyIdToString(0x1234'5678'9ABC'DEF0ULL);
  auto p = ParseKeyIdParam(text);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value(), 0x1234'5678'9ABC'DEF0ULL);
}

TEST(ParseKeyIdParamTest, AnythingElseIsNotFound) {
  for (const std::string& bad :
       {std::string("00000000000"), std::string("short"), std::string("ABCDEFGHIJKL"),
        std::string("ABCDEFGHIJ!"), std::string(""), std::string("zzzzzzzzzzz")}) {
    SCOPED_TRACE(bad);
    auto p = ParseKeyIdParam(bad);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().status, 404u);
    EXPECT_EQ(p.error().error, "not_found");
  }
}

TEST(IsValidOwnerIdTest, Bounds) {
  EXPECT_TRUE(IsValidOwnerId("user-1"));
  EXPECT_TRUE(IsValidOwnerId("user@example.com"));
  EXPECT_TRUE(IsValidOwnerId(std::string(128, 'x')));
  EXPECT_FALSE(IsValidOwnerId(std::string(129, 'x')));
  EXPECT_FALSE(IsValidOwnerId(""));
  EXPECT_FALSE(IsValidOwnerId("a/b"));
  EXPECT_FALSE(IsValidOwnerId("a\nb"));
  EXPECT_FALSE(IsValidOwnerId("a\x7f"));
}

TEST(ParseVerifyTest, AcceptsKeyAndOptionalScopes) {
  auto bare = ParseVerify(R"({"key":"ak_x"})");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare.value().key, "ak_x");
  EXPECT_TRUE(bare.value().scopes.empty());
  auto scoped = ParseVerify(R"({"key":"ak_x","scopes":["users:read","users:read","a:*"]})");
  ASSERT_TRUE(scoped.ok());
  EXPECT_EQ(scoped.value().scopes, (std::vector<std::string>{"users:read", "a:*"}));
  // The key's format is the verifier's business (MALFORMED is a verdict, not a 400).
  auto odd = ParseVerify(R"({"key":""})");
  ASSERT_TRUE(odd.ok());
}

TEST(ParseVerifyTest, Refusals) {
  ExpectRejected(ParseVerify(""), "JSON object");
  ExpectRejected(ParseVerify("{}"), "'key'");
  ExpectRejected(ParseVerify(R"({"key":5})"), "'key'");
  ExpectRejected(ParseVerify(R"({"key":null})"), "'key'");
  ExpectRejected(ParseVerify(R"({"key":"k","scopes":"users:read"})"), "scopes");
  ExpectRejected(ParseVerify(R"({"key":"k","scopes":["nope"]})"), "scope");
  ExpectRejected(ParseVerify(R"({"key":"k","scope":["a:b"]})"), "'scope'");
}

// ---- invalidate ----

TEST(ParseInvalidateTest, EmptyBodyAndAllMeanEverything) {
  for (const char* body : {"", "{}", R"({"type":"all"})"}) {
    SCOPED_TRACE(body);
    auto p = ParseInvalidate(body);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p.value().target, InvalidateBody::Target::kAll);
  }
}

TEST(ParseInvalidateTest, EachTarget) {
  const std::pair<const char*, CacheType> types[] = {{"validation", CacheType::kValidation},
                                                     {"scope", CacheType::kScope},
                                                     {"user_list", CacheType::kUserList},
                                                     {"usage", CacheType::kUsage}};
  for (const auto& [name, type] : types) {
    SCOPED_TRACE(name);
    auto p = ParseInvalidate(std::string(R"({"type":")") + name + "\"}");
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p.value().target, InvalidateBody::Target::kType);
    EXPECT_EQ(p.value().type, type);
  }
  const KeyId id = 0x0FED'CBA9'8765'4321ULL;
  auto key = ParseInvalidate(R"({"key_id":")" + KeyIdToString(id) + "\"}");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key.value().target, InvalidateBody::Target::kKey);
  EXPECT_EQ(key.value().key_id, id);
  auto owner = ParseInvalidate(R"({"owner_id":"user-1"})");
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(owner.value().target, InvalidateBody::Target::kOwner);
  EXPECT_EQ(owner.value().owner_id, "user-1");
}

TEST(ParseInvalidateTest, Refusals) {
  ExpectRejected(ParseInvalidate(R"({"type":"everything"})"), "'type'");
  ExpectRejected(ParseInvalidate(R"({"type":"Validation"})"), "'type'");
  ExpectRejected(ParseInvalidate(R"({"type":1})"), "'type'");
  ExpectRejected(ParseInvalidate(R"({"key_id":"short"})"), "'key_id'");
  ExpectRejected(ParseInvalidate(R"({"key_id":12345})"), "'key_id'");
  ExpectRejected(ParseInvalidate(R"({"owner_id":""})"), "'owner_id'");
  ExpectRejected(ParseInvalidate(R"({"owner_id":"a/b"})"), "'owner_id'");
  ExpectRejected(ParseInvalidate(R"({"owner_id":7})"), "'owner_id'");
  ExpectRejected(ParseInvalidate(R"({"type":"scope","owner_id":"u"})"), "at most one");
  ExpectRejected(ParseInvalidate(R"({"key_id":"00000000001","owner_id":"u"})"), "at most one");
  ExpectRejected(ParseInvalidate(R"({"cache":"scope"})"), "'cache'");
  ExpectRejected(ParseInvalidate("[]"), "JSON object");
  ExpectRejected(ParseInvalidate("{"), "JSON");
}

}  // namespace
}  // namespace keycache
