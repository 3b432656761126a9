// Verification over real HTTP: POST /v1/keys/verify (every code, always 200, X-Cache-Status)
// and GET /v1/auth (credentials from X-API-Key or Bearer, scopes from X-Required-Scope or
// ?scope=, 200/401/403 with identity headers).
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "core/api_key.h"
#include "core/base62.h"
#include "core/crc32.h"
#include "integration/integration_util.h"

namespace keycache::testing {
namespace {

class IntegVerification : public ServerTest<IntegVerification> {};

std::set<std::string> SplitComma(const std::string& text) {
  std::set<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.insert(item);
  return out;
}

void ExpectVerifyCode(const Reply& r, std::string_view code, std::string_view context) {
  SCOPED_TRACE(std::string(context));
  EXPECT_EQ(r.status, 200u) << r.Describe();
  EXPECT_EQ(r.Str("code"), code) << r.Describe();
  ASSERT_TRUE(r.Object().contains("valid")) << r.Describe();
  EXPECT_EQ(r.Object().at("valid"), code == "VALID") << r.Describe();
  EXPECT_TRUE(r.HasHeader("X-Cache-Status")) << r.Describe();
}

void ExpectAuth401(const Reply& r, std::string_view code, std::string_view context) {
  SCOPED_TRACE(std::string(context));
  EXPECT_EQ(r.status, 401u) << r.Describe();
  EXPECT_EQ(r.Str("code"), code) << r.Describe();
  EXPECT_NE(r.Header("WWW-Authenticate").find("Bearer"), std::string::npos);
  EXPECT_FALSE(r.HasHeader("X-Key-Id")) << "a refused key must not be identified";
  EXPECT_TRUE(r.HasHeader("X-Cache-Status"));
}

TEST_F(IntegVerification, ValidKeyIsAMissThenAHitWithItsIdentity) {
  const std::string owner = UniqueOwner("valid");
  const CreatedKey k = CreateKey(api(), owner, {"reports:read"});
  const Reply first = Verify(api(), k.key, {"reports:read"});
  ExpectVerifyCode(first, "VALID", "first");
  EXPECT_EQ(first.Header("X-Cache-Status"), "MISS");
  EXPECT_EQ(first.Str("key_id"), k.id);
  EXPECT_EQ(first.Str("owner_id"), owner);
  EXPECT_EQ(first.Object().at("scopes"), (boost::json::array{"reports:read"}));
  EXPECT_TRUE(first.Object().at("expires_at").is_null());
  EXPECT_EQ(first.Str("key"), "") << "the answer must not echo the key";

  const Reply second = Verify(api(), k.key, {"reports:read"});
  ExpectVerifyCode(second, "VALID", "second");
  EXPECT_EQ(second.Header("X-Cache-Status"), "HIT");
  EXPECT_EQ(Verify(api(), k.key).Str("code"), "VALID") << "no required scope";
}

TEST_F(IntegVerification, MalformedKeysAreRefusedWithoutALookup) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("malformed"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"garbage", "garbage"},
      {"empty", ""},
      {"prefix only", "ak_"},
      {"wrong prefix", "zz" + k.key.substr(2)},
      {"no separator", "ak" + k.key.substr(3)},
      {"flipped id char", FlipChar(k.key, 5)},
      {"flipped secret char", FlipChar(k.key, 30)},
      {"flipped checksum char", FlipChar(k.key, k.key.size() - 1)},
      {"truncated", k.key.substr(0, k.key.size() - 1)},
      {"extended", k.key + "A"},
      {"trailing blank", k.key + " "},
      {"non-base62", k.key.substr(0, 20) + "!" + k.key.substr(21)},
  };
  for (const auto& [name, key] : cases) {
    const Reply r = Verify(api(), key);
    ExpectVerifyCode(r, "MALFORMED", name);
    EXPECT_EQ(r.Header("X-Cache-Status"), "BYPASS") << name;
    EXPECT_FALSE(r.Object().contains("key_id")) << name << ": " << r.Describe();
    // HTTP strips blanks around header values, so "trailing blank" is a valid X-API-Key.
    if (!key.empty() && name != "trailing blank") {
      ExpectAuth401(Auth(api(), key), "MALFORMED", name);
    }
  }
  EXPECT_EQ(Verify(api(), k.key).Str("code"), "VALID");
}

TEST_F(IntegVerification, UnknownKeysAreNotFoundAndRevealNothing) {
  const CreatedKey deleted = CreateKey(api(), UniqueOwner("gone"));
  ASSERT_EQ(api().Admin(http::verb::delete_, "/v1/keys/" + deleted.id).status, 200u);
  const Reply first = Verify(api(), deleted.key);
  ExpectVerifyCode(first, "NOT_FOUND", "deleted key");
  EXPECT_EQ(first.Header("X-Cache-Status"), "MISS");
  const Reply second = Verify(api(), deleted.key);
  ExpectVerifyCode(second, "NOT_FOUND", "deleted key again");
  EXPECT_EQ(second.Header("X-Cache-Status"), "HIT") << "unknown ids are cached as missing";
  ExpectAuth401(Auth(api(), deleted.key), "NOT_FOUND", "deleted key on /v1/auth");

  ExpectVerifyCode(Verify(api(), UnknownIssuedKey(server().pepper())), "NOT_FOUND", "random id");

  // A real id with a secret that is not the key's: refused as unknown, identity withheld.
  const std::string owner = UniqueOwner("forged");
  const CreatedKey real = CreateKey(api(), owner);
  ASSERT_EQ(Verify(api(), real.key).Str("code"), "VALID");
  auto id = ParseKey("ak", real.key);
  ASSERT_TRUE(id);
  auto forged = GenerateKeyWithId("ak", *id, KeyHasher(server().pepper()));
  ASSERT_TRUE(forged);
  const Reply r = Verify(api(), forged->key);
  ExpectVerifyCode(r, "NOT_FOUND", "forged secret");
  EXPECT_EQ(r.body.find(owner), std::string::npos) << r.Describe();
  EXPECT_FALSE(r.Object().contains("key_id")) << r.Describe();
  ExpectAuth401(Auth(api(), forged->key), "NOT_FOUND", "forged secret on /v1/auth");
  EXPECT_EQ(Verify(api(), real.key).Str("code"), "VALID") << "the real key is unaffected";
}

// Keys keycache never issued, in either format, are refused without a cache or store lookup: a
// tagged key minted without the pepper fails its tag; a legacy-format key's id is not among the
// legacy ids (there are none here). The refusal looks like any unknown key's.
TEST_F(IntegVerification, ForgedKeysAreRefusedWithoutALookup) {
  const CreatedKey real = CreateKey(api(), UniqueOwner("real"));
  ASSERT_EQ(Verify(api(), real.key).Str("code"), "VALID");
  const double reads_before = MetricValue(api(), "keycache_store_reads_total");
  constexpr int kEach = 40;
  for (int i = 0; i < kEach; ++i) {
    for (const std::string& forged : {UnknownWellFormedKey(), UnknownLegacyKey()}) {
      const Reply r = Verify(api(), forged);
      ExpectVerifyCode(r, "NOT_FOUND", forged);
      EXPECT_EQ(r.Header("X-Cache-Status"), "BYPASS") << r.Describe();
      EXPECT_FALSE(r.Object().contains("key_id")) << r.Describe();
      ExpectAuth401(Auth(api(), forged), "NOT_FOUND", "forged key on /v1/auth");
    }
  }
  // A forged tag on a real id and secret: the tag is checked before the id is looked up.
  std::string retagged = real.key;
  const std::size_t tag_at = retagged.size() - kChecksumChars - kTagChars;
  retagged.replace(tag_at, kTagChars, std::string(kTagChars, '0'));
  retagged.resize(retagged.size() - kChecksumChars);
  base62::AppendFixed(retagged, Crc32(retagged), kChecksumChars);
  ExpectVerifyCode(Verify(api(), retagged), "NOT_FOUND", "real id and secret, forged tag");

  EXPECT_EQ(MetricValue(api(), "keycache_store_reads_total"), reads_before)
      << "a forged key reached the store";
  EXPECT_EQ(MetricValue(api(), "keycache_forged_keys_total{format=\"tagged\"}"), 2 * kEach + 1);
  EXPECT_EQ(MetricValue(api(), "keycache_forged_keys_total{format=\"legacy\"}"), 2 * kEach);
  // The legacy ids were read from the store (an index over legacy rows only), not per key.
  EXPECT_GE(MetricValue(api(), "keycache_legacy_ids_reloads_total"), 1);
  EXPECT_LE(MetricValue(api(), "keycache_legacy_ids_reloads_total"), 2 * kEach);
  EXPECT_EQ(Verify(api(), real.key).Str("code"), "VALID") << "the real key is unaffected";
}

TEST_F(IntegVerification, KeyExpiresOnTime) {
  boost::json::object extra{{"expires_at", Rfc3339FromNow(2'000)}};
  const CreatedKey k = CreateKey(api(), UniqueOwner("expiry"), {}, extra);
  const Reply now = Verify(api(), k.key);
  ExpectVerifyCode(now, "VALID", "before expiry");
  EXPECT_TRUE(now.Object().at("expires_at").is_string());

  std::string last;
  EXPECT_TRUE(
      PollUntil([&] { return (last = Verify(api(), k.key).Str("code")) == "EXPIRED"; }, 20s, 100ms))
      << "still " << last << " long after expires_at";
  const Reply expired = Verify(api(), k.key);
  ExpectVerifyCode(expired, "EXPIRED", "after expiry");
  EXPECT_EQ(expired.Str("key_id"), k.id);
  ExpectAuth401(Auth(api(), k.key), "EXPIRED", "after expiry on /v1/auth");
  EXPECT_EQ(api().Admin(http::verb::get, "/v1/keys/" + k.id).Str("state"), "expired");
}

// Both answers are written by hand, not by a JSON library: an owner id with quotes, a
// backslash and non-ASCII text, and an expiry, must come back exactly as created, from the
// store (MISS) and from memory (HIT).
TEST_F(IntegVerification, AnswersCarryOwnerScopesAndExpiryExactlyAsCreated) {
  const std::string owner = UniqueOwner("team \"q\" \\ caf\u00e9 \u6771\u4eac");
  const std::string expires_at = Rfc3339FromNow(3'600'000);
  const CreatedKey k = CreateKey(api(), owner, {"reports:read", "orders:*"},
                                 boost::json::object{{"expires_at", expires_at}});
  ASSERT_TRUE(k.record.contains("expires_at")) << k.reply.Describe();
  for (const char* expected_cache : {"MISS", "HIT"}) {
    SCOPED_TRACE(expected_cache);
    const Reply r = Verify(api(), k.key);
    ExpectVerifyCode(r, "VALID", expected_cache);
    EXPECT_EQ(r.Header("X-Cache-Status"), expected_cache);
    EXPECT_EQ(r.Header("Content-Type"), "application/json");
    EXPECT_EQ(r.Str("owner_id"), owner) << r.Describe();
    EXPECT_EQ(r.Str("key_id"), k.id);
    EXPECT_EQ(r.Object().at("scopes"), (boost::json::array{"reports:read", "orders:*"}));
    EXPECT_EQ(r.Object().at("expires_at"), k.record.at("expires_at")) << r.Describe();
  }
  const Reply auth = Auth(api(), k.key);
  EXPECT_EQ(auth.status, 200u) << auth.Describe();
  EXPECT_EQ(auth.Header("X-Owner-Id"), owner);
  EXPECT_EQ(auth.Header("X-Key-Scopes"), "reports:read,orders:*");
  EXPECT_EQ(auth.Header("Content-Type"), "application/json");
  EXPECT_EQ(auth.Str("code"), "VALID");
}

TEST_F(IntegVerification, DisabledRevokedAndInsufficientScopeAreRefusedWithTheirCodes) {
  const CreatedKey disabled = CreateKey(api(), UniqueOwner("codes"), {"reports:read"});
  ASSERT_EQ(Verify(api(), disabled.key).Str("code"), "VALID");
  ASSERT_EQ(
      api().Admin(http::verb::patch, "/v1/keys/" + disabled.id, R"({"enabled":false})").status,
      200u);
  const Reply off = Verify(api(), disabled.key);
  ExpectVerifyCode(off, "DISABLED", "disabled");
  EXPECT_EQ(off.Str("key_id"), disabled.id) << "the secret matched: identity is shown";
  ExpectAuth401(Auth(api(), disabled.key), "DISABLED", "disabled on /v1/auth");

  const CreatedKey revoked = CreateKey(api(), UniqueOwner("codes"));
  ASSERT_EQ(api().Admin(http::verb::post, "/v1/keys/" + revoked.id + "/revoke").status, 200u);
  const Reply gone = Verify(api(), revoked.key);
  ExpectVerifyCode(gone, "REVOKED", "revoked");
  EXPECT_EQ(gone.Str("key_id"), revoked.id) << "the secret matched: identity is shown";
  ExpectAuth401(Auth(api(), revoked.key), "REVOKED", "revoked on /v1/auth");

  const CreatedKey scoped = CreateKey(api(), UniqueOwner("codes"), {"reports:read"});
  const Reply r = Verify(api(), scoped.key, {"reports:read", "orders:write"});
  ExpectVerifyCode(r, "INSUFFICIENT_SCOPE", "one scope missing");
  EXPECT_EQ(r.Str("key_id"), scoped.id);
  const Reply auth = Auth(api(), scoped.key, "orders:write");
  EXPECT_EQ(auth.status, 403u) << auth.Describe();
  EXPECT_EQ(auth.Str("code"), "INSUFFICIENT_SCOPE");
}

TEST_F(IntegVerification, AuthTakesTheKeyFromXApiKeyOrBearer) {
  const std::string owner = UniqueOwner("auth");
  const CreatedKey k = CreateKey(api(), owner, {"reports:read", "orders:write"});
  for (const auto& [name, header] : std::vector<std::pair<std::string, ApiClient::Headers>>{
           {"X-API-Key", {{"X-API-Key", k.key}}},
           {"Bearer", {{"Authorization", "Bearer " + k.key}}}}) {
    SCOPED_TRACE(name);
    const Reply r = api().Send(http::verb::get, "/v1/auth", {}, header);
    EXPECT_EQ(r.status, 200u) << r.Describe();
    EXPECT_EQ(r.Header("X-Key-Id"), k.id);
    EXPECT_EQ(r.Header("X-Owner-Id"), owner);
    EXPECT_EQ(SplitComma(r.Header("X-Key-Scopes")),
              (std::set<std::string>{"reports:read", "orders:write"}));
    EXPECT_TRUE(r.HasHeader("X-Cache-Status"));
  }
  const Reply missing = api().Send(http::verb::get, "/v1/auth");
  ExpectAuth401(missing, "MISSING_API_KEY", "no credentials");
  ExpectAuth401(api().Send(http::verb::get, "/v1/auth", {}, {{"Authorization", "Basic abc"}}),
                "MISSING_API_KEY", "not a Bearer credential");
}

TEST_F(IntegVerification, AuthTakesRequiredScopesFromHeaderOrQuery) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("scopes"), {"reports:read", "orders:write"});
  ApiClient::Headers key = {{"X-API-Key", k.key}};
  auto get = [&](const std::string& target, ApiClient::Headers extra = {}) {
    ApiClient::Headers h = key;
    h.insert(h.end(), extra.begin(), extra.end());
    return api().Send(http::verb::get, target, {}, h);
  };
  EXPECT_EQ(get("/v1/auth", {{"X-Required-Scope", "reports:read"}}).status, 200u);
  EXPECT_EQ(get("/v1/auth?scope=reports:read").status, 200u);
  EXPECT_EQ(get("/v1/auth?scope=reports%3Aread").status, 200u);
  EXPECT_EQ(get("/v1/auth", {{"X-Required-Scope", "reports:read, orders:write"}}).status, 200u);
  EXPECT_EQ(get("/v1/auth", {{"X-Required-Scope", "reports:read orders:write"}}).status, 200u);

  const Reply denied = get("/v1/auth", {{"X-Required-Scope", "orders:delete"}});
  EXPECT_EQ(denied.status, 403u) << denied.Describe();
  EXPECT_EQ(denied.Str("code"), "INSUFFICIENT_SCOPE");
  EXPECT_FALSE(denied.HasHeader("X-Key-Id"));
  EXPECT_EQ(get("/v1/auth?scope=orders:delete").status, 403u);
  EXPECT_EQ(get("/v1/auth", {{"X-Required-Scope", "reports:read,orders:delete"}}).status, 403u);
  ExpectApiError(get("/v1/auth", {{"X-Required-Scope", "not a scope!"}}), 400, "scope",
                 "malformed required scope");
}

TEST_F(IntegVerification, WildcardScopesGrantWhatTheyCover) {
  const CreatedKey reports = CreateKey(api(), UniqueOwner("wild"), {"reports:*"});
  EXPECT_EQ(Verify(api(), reports.key, {"reports:read"}).Str("code"), "VALID");
  EXPECT_EQ(Verify(api(), reports.key, {"reports:write"}).Str("code"), "VALID");
  EXPECT_EQ(Verify(api(), reports.key, {"orders:read"}).Str("code"), "INSUFFICIENT_SCOPE");
  EXPECT_EQ(Auth(api(), reports.key, "reports:read").status, 200u);
  EXPECT_EQ(Auth(api(), reports.key, "orders:read").status, 403u);

  const CreatedKey readers = CreateKey(api(), UniqueOwner("wild"), {"*:read"});
  EXPECT_EQ(Verify(api(), readers.key, {"orders:read"}).Str("code"), "VALID");
  EXPECT_EQ(Verify(api(), readers.key, {"orders:write"}).Str("code"), "INSUFFICIENT_SCOPE");

  const CreatedKey all = CreateKey(api(), UniqueOwner("wild"), {"*"});
  EXPECT_EQ(Verify(api(), all.key, {"orders:write", "billing:refund"}).Str("code"), "VALID");

  const CreatedKey none = CreateKey(api(), UniqueOwner("wild"), {});
  EXPECT_EQ(Verify(api(), none.key).Str("code"), "VALID");
  EXPECT_EQ(Verify(api(), none.key, {"reports:read"}).Str("code"), "INSUFFICIENT_SCOPE");
}

TEST_F(IntegVerification, AuthServesProxySubrequestsOnAnyMethodAndForwardedPath) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("proxy"));
  ApiClient::Headers key = {{"X-API-Key", k.key}};
  EXPECT_EQ(api().Send(http::verb::post, "/v1/auth/orders/42", "{}", key).status, 200u);
  EXPECT_EQ(api().Send(http::verb::delete_, "/v1/auth/orders/42", {}, key).status, 200u);
  // HEAD (raw: the answer carries the GET's Content-Length but no body).
  std::string body = "unset";
  const std::string head = api().Raw("HEAD /v1/auth HTTP/1.1\r\nHost: t\r\nX-API-Key: " + k.key +
                                     "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(RawStatus(head, &body), 200u) << head;
  EXPECT_EQ(body, "") << "a HEAD answer must not carry a body";
  EXPECT_NE(head.find("X-Key-Id: " + k.id), std::string::npos) << head;
  const std::string refused =
      api().Raw("HEAD /v1/auth HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(RawStatus(refused), 401u) << refused;
  EXPECT_EQ(api().Send(http::verb::get, "/v1/auth", {}, key).status, 200u);
}

// A verification request refused before any cache is consulted still says where its answer came
// from: BYPASS (regression: the 400s of both endpoints carried no X-Cache-Status).
TEST_F(IntegVerification, RefusedVerificationRequestsSayBypass) {
  const Reply bad_body = api().Send(http::verb::post, "/v1/keys/verify", "{\"key\": 42}");
  EXPECT_EQ(bad_body.status, 400u) << bad_body.Describe();
  EXPECT_EQ(bad_body.Header("X-Cache-Status"), "BYPASS") << bad_body.Describe();

  const CreatedKey k = CreateKey(api(), UniqueOwner("refused"));
  const Reply bad_scope = Auth(api(), k.key, "not a scope!");
  EXPECT_EQ(bad_scope.status, 400u) << bad_scope.Describe();
  EXPECT_EQ(bad_scope.Header("X-Cache-Status"), "BYPASS") << bad_scope.Describe();
}

}  // namespace
}  // namespace keycache::testing
