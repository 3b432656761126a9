// Key lifecycle over real HTTP: create, read, list (cached), update, revoke, delete, usage, and
// the per-owner limit. Rotation is in key_rotation_test.cc.
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>

#include "core/key_hasher.h"
#include "integration/integration_util.h"
#include "util/time_format.h"

namespace keycache::testing {
namespace {

class IntegLifecycle : public ServerTest<IntegLifecycle> {};

std::string Hex(const KeyHash& h, const char* digits) {
  std::string out;
  for (std::uint8_t b : h) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

std::string Base64(const KeyHash& h, bool url) {
  const char* alphabet = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                             : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < h.size(); i += 3) {
    const unsigned n = (h[i] << 16) | (h[i + 1] << 8) | h[i + 2];
    for (int s : {18, 12, 6, 0}) out.push_back(alphabet[(n >> s) & 63]);
  }
  // 32 bytes: two left over; the unpadded prefix is enough to search for.
  const unsigned n = (h[i] << 16) | (h[i + 1] << 8);
  for (int s : {18, 12, 6}) out.push_back(alphabet[(n >> s) & 63]);
  return out;
}

// Every rendering of the key's secret that must never appear in an answer.
std::vector<std::string> Secrets(const KeycachedProcess& server, const std::string& key) {
  std::ifstream in(server.data_dir() / "pepper");
  std::string pepper;
  std::getline(in, pepper);
  EXPECT_GE(pepper.size(), kMinPepperBytes) << "cannot read the generated pepper";
  std::vector<std::string> out = {key, key.substr(3 + 11, 32)};
  if (pepper.size() >= kMinPepperBytes) {
    const KeyHash h = KeyHasher(pepper).Hash(key);
    out.push_back(Hex(h, "0123456789abcdef"));
    out.push_back(Hex(h, "0123456789ABCDEF"));
    out.push_back(Base64(h, false));
    out.push_back(Base64(h, true));
  }
  return out;
}

void ExpectNoSecret(const Reply& r, const std::vector<std::string>& secrets, const char* what) {
  for (const auto& s : secrets) {
    EXPECT_EQ(r.body.find(s), std::string::npos) << what << " reveals '" << s << "': " << r.body;
  }
}

TEST_F(IntegLifecycle, CreateReturnsThePlaintextKeyOnceAndRecordsNeverHoldIt) {
  const std::string owner = UniqueOwner("create");
  boost::json::object extra;
  extra["expires_in_days"] = 30;
  extra["metadata"] = boost::json::object{{"team", "payments"}};
  const CreatedKey k = CreateKey(api(), owner, {"reports:read", "orders:write"}, extra);
  ASSERT_EQ(k.reply.status, 201u);

  EXPECT_EQ(k.key.rfind("ak_", 0), 0u) << k.key;
  EXPECT_EQ(k.key.size(), 3u + 58u) << k.key;
  EXPECT_EQ(k.id.size(), 11u);
  EXPECT_EQ(k.key.substr(4, 11), k.id) << "the key embeds its id";
  EXPECT_EQ(k.record.at("id"), JsonStr(k.id));
  EXPECT_EQ(k.record.at("owner_id"), JsonStr(owner));
  EXPECT_EQ(k.record.at("name"), "integration key");
  EXPECT_EQ(k.record.at("scopes"), (boost::json::array{"reports:read", "orders:write"}));
  EXPECT_EQ(k.record.at("state"), "active");
  EXPECT_EQ(k.record.at("enabled"), true);
  ASSERT_TRUE(k.record.at("expires_at").is_string());
  ASSERT_TRUE(k.record.at("created_at").is_string());
  const auto created_at = ParseRfc3339(k.record.at("created_at").as_string());
  const auto expires_at = ParseRfc3339(k.record.at("expires_at").as_string());
  ASSERT_TRUE(created_at && expires_at) << ToJson(k.record);
  // Both come from the server's clock within one request: allow for the request itself.
  EXPECT_NEAR(static_cast<double>(*expires_at - *created_at), 30.0 * 86'400'000, 60'000.0)
      << "expires_in_days=30: " << ToJson(k.record);
  EXPECT_TRUE(k.record.at("revoked_at").is_null());
  EXPECT_EQ(k.record.at("metadata"), (boost::json::object{{"team", "payments"}}));
  ExpectNoSecretMembers(k.record);

  const auto secrets = Secrets(server(), k.key);
  EXPECT_EQ(ToJson(k.record).find(k.key), std::string::npos) << "the record holds the key";
  for (std::size_t i = 2; i < secrets.size(); ++i) {
    EXPECT_EQ(k.reply.body.find(secrets[i]), std::string::npos) << "create reveals the hash";
  }

  const Reply got = api().Admin(http::verb::get, "/v1/keys/" + k.id);
  ASSERT_EQ(got.status, 200u) << got.Describe();
  EXPECT_EQ(got.Str("id"), k.id);
  EXPECT_EQ(got.Str("owner_id"), owner);
  ExpectNoSecretMembers(got.Object());
  ExpectNoSecret(got, secrets, "GET /v1/keys/{id}");

  const Reply list = api().Admin(http::verb::get, "/v1/owners/" + owner + "/keys");
  ASSERT_EQ(list.status, 200u) << list.Describe();
  ExpectNoSecret(list, secrets, "the owner's key list");
  const Reply usage = api().Admin(http::verb::get, "/v1/keys/" + k.id + "/usage");
  ExpectNoSecret(usage, secrets, "usage");
}

TEST_F(IntegLifecycle, OwnerListIsCachedAndEveryChangeToTheOwnersKeysRefreshesIt) {
  const std::string owner = UniqueOwner("list");
  const std::string path = "/v1/owners/" + owner + "/keys";
  const CreatedKey first = CreateKey(api(), owner);

  const Reply miss = api().Admin(http::verb::get, path);
  ASSERT_EQ(miss.status, 200u) << miss.Describe();
  EXPECT_EQ(miss.Header("X-Cache-Status"), "MISS");
  EXPECT_EQ(miss.Str("owner_id"), owner);
  EXPECT_EQ(miss.Object().at("count"), 1);
  ASSERT_EQ(miss.Object().at("keys").as_array().size(), 1u);
  EXPECT_EQ(miss.Object().at("keys").as_array()[0].at("id"), JsonStr(first.id));

  const Reply hit = api().Admin(http::verb::get, path);
  EXPECT_EQ(hit.Header("X-Cache-Status"), "HIT");
  EXPECT_EQ(hit.body, miss.body);

  const CreatedKey second = CreateKey(api(), owner);
  const Reply after_create = api().Admin(http::verb::get, path);
  EXPECT_EQ(after_create.Header("X-Cache-Status"), "MISS");
  EXPECT_EQ(after_create.Object().at("count"), 2) << after_create.Describe();
  EXPECT_EQ(api().Admin(http::verb::get, path).Header("X-Cache-Status"), "HIT");

  // Another owner's key leaves this list cached.
  CreateKey(api(), UniqueOwner("other"));
  EXPECT_EQ(api().Admin(http::verb::get, path).Header("X-Cache-Status"), "HIT");

  ASSERT_EQ(api().Admin(http::verb::patch, "/v1/keys/" + second.id, R"({"name":"renamed"})").status,
            200u);
  const Reply after_patch = api().Admin(http::verb::get, path);
  EXPECT_EQ(after_patch.Header("X-Cache-Status"), "MISS");
  EXPECT_NE(after_patch.body.find("renamed"), std::string::npos) << after_patch.Describe();

  ASSERT_EQ(api().Admin(http::verb::post, "/v1/keys/" + first.id + "/revoke", "{}").status, 200u);
  const Reply after_revoke = api().Admin(http::verb::get, path);
  EXPECT_EQ(after_revoke.Header("X-Cache-Status"), "MISS");
  EXPECT_NE(after_revoke.body.find("\"revoked\""), std::string::npos) << after_revoke.Describe();

  ASSERT_EQ(api().Admin(http::verb::delete_, "/v1/keys/" + first.id).status, 200u);
  const Reply after_delete = api().Admin(http::verb::get, path);
  EXPECT_EQ(after_delete.Header("X-Cache-Status"), "MISS");
  EXPECT_EQ(after_delete.Object().at("count"), 1) << after_delete.Describe();
}

TEST_F(IntegLifecycle, PatchUpdatesNameExpiryEnabledAndMetadata) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("patch"), {"reports:read"});
  const std::string path = "/v1/keys/" + k.id;

  Reply r = api().Admin(http::verb::patch, path, R"({"name":"billing export"})");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_EQ(r.Str("name"), "billing export");

  // The verification answer shows the expiry, so a stale cache entry would be visible at once.
  ASSERT_TRUE(Verify(api(), k.key).Object().at("expires_at").is_null());
  const std::string expires = Rfc3339FromNow(3'600'000);
  r = api().Admin(http::verb::patch, path, R"({"expires_at":")" + expires + "\"}");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_EQ(r.Str("expires_at"), expires);
  EXPECT_EQ(Verify(api(), k.key).Str("expires_at"), expires);
  r = api().Admin(http::verb::patch, path, R"({"expires_at":null})");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_TRUE(r.Object().at("expires_at").is_null()) << r.Describe();
  EXPECT_TRUE(Verify(api(), k.key).Object().at("expires_at").is_null());

  r = api().Admin(http::verb::patch, path, R"({"metadata":{"env":"prod"}})");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_EQ(r.Object().at("metadata"), (boost::json::object{{"env", "prod"}}));

  ASSERT_EQ(Verify(api(), k.key).Str("code"), "VALID");
  r = api().Admin(http::verb::patch, path, R"({"enabled":false})");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_EQ(r.Object().at("enabled"), false);
  EXPECT_EQ(r.Str("state"), "disabled");
  EXPECT_EQ(Verify(api(), k.key).Str("code"), "DISABLED");
  r = api().Admin(http::verb::patch, path, R"({"enabled":true})");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_EQ(Verify(api(), k.key).Str("code"), "VALID");

  const Reply got = api().Admin(http::verb::get, path);
  EXPECT_EQ(got.Str("name"), "billing export");
  EXPECT_EQ(got.Str("state"), "active");
  EXPECT_TRUE(got.Object().at("expires_at").is_null());
  EXPECT_EQ(got.Object().at("metadata"), (boost::json::object{{"env", "prod"}}));
  EXPECT_EQ(got.Object().at("scopes"), (boost::json::array{"reports:read"}));
}

TEST_F(IntegLifecycle, ScopeChangeTakesEffectOnTheNextVerification) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("scope"), {"reports:read"});
  EXPECT_EQ(Verify(api(), k.key, {"reports:read"}).Str("code"), "VALID");
  const Reply cached = Verify(api(), k.key, {"reports:read"});
  EXPECT_EQ(cached.Header("X-Cache-Status"), "HIT");
  EXPECT_EQ(Verify(api(), k.key, {"orders:write"}).Str("code"), "INSUFFICIENT_SCOPE");

  const Reply patched =
      api().Admin(http::verb::patch, "/v1/keys/" + k.id, R"({"scopes":["orders:write"]})");
  ASSERT_EQ(patched.status, 200u) << patched.Describe();
  EXPECT_EQ(patched.Object().at("scopes"), (boost::json::array{"orders:write"}));

  EXPECT_EQ(Verify(api(), k.key, {"orders:write"}).Str("code"), "VALID");
  EXPECT_EQ(Verify(api(), k.key, {"reports:read"}).Str("code"), "INSUFFICIENT_SCOPE");
  const Reply auth = Auth(api(), k.key, "orders:write");
  EXPECT_EQ(auth.status, 200u) << auth.Describe();
  EXPECT_EQ(auth.Header("X-Key-Scopes"), "orders:write");
  EXPECT_EQ(Auth(api(), k.key, "reports:read").status, 403u);
}

TEST_F(IntegLifecycle, RevokedKeyIsRefusedOnTheVeryNextRequest) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("revoke"), {"reports:read"});
  ASSERT_EQ(Auth(api(), k.key).status, 200u);
  const Reply cached = Auth(api(), k.key);
  ASSERT_EQ(cached.status, 200u);
  EXPECT_EQ(cached.Header("X-Cache-Status"), "HIT");

  const Reply revoked =
      api().Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", R"({"reason":"leaked"})");
  ASSERT_EQ(revoked.status, 200u) << revoked.Describe();
  EXPECT_EQ(revoked.Str("state"), "revoked");
  EXPECT_EQ(revoked.Str("revoked_reason"), "leaked");
  EXPECT_TRUE(revoked.Object().at("revoked_at").is_string());

  const Reply next = Auth(api(), k.key);
  EXPECT_EQ(next.status, 401u) << next.Describe();
  EXPECT_EQ(next.Str("code"), "REVOKED");
  const Reply verified = Verify(api(), k.key);
  EXPECT_EQ(verified.Str("code"), "REVOKED");
  EXPECT_EQ(verified.Object().at("valid"), false);
}

TEST_F(IntegLifecycle, DeletedKeyIsGoneAndNoLongerVerifies) {
  const std::string owner = UniqueOwner("delete");
  const CreatedKey k = CreateKey(api(), owner);
  ASSERT_EQ(Verify(api(), k.key).Str("code"), "VALID");  // now cached

  const Reply deleted = api().Admin(http::verb::delete_, "/v1/keys/" + k.id);
  ASSERT_EQ(deleted.status, 200u) << deleted.Describe();
  EXPECT_EQ(deleted.Str("id"), k.id);
  EXPECT_EQ(deleted.Object().at("deleted"), true);

  ExpectApiError(api().Admin(http::verb::get, "/v1/keys/" + k.id), 404, "", "GET after delete");
  ExpectApiError(api().Admin(http::verb::delete_, "/v1/keys/" + k.id), 404, "", "second DELETE");
  ExpectApiError(api().Admin(http::verb::get, "/v1/keys/" + k.id + "/usage"), 404, "",
                 "usage after delete");
  const Reply verified = Verify(api(), k.key);
  EXPECT_EQ(verified.status, 200u);
  EXPECT_EQ(verified.Str("code"), "NOT_FOUND") << verified.Describe();
  EXPECT_FALSE(verified.Object().contains("owner_id")) << verified.Describe();
  EXPECT_EQ(Auth(api(), k.key).Str("code"), "NOT_FOUND");
  const Reply list = api().Admin(http::verb::get, "/v1/owners/" + owner + "/keys");
  EXPECT_EQ(list.Object().at("count"), 0) << list.Describe();
}

TEST_F(IntegLifecycle, UsageCountsValidVerificationsExactly) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("usage"), {"reports:read"});
  const Reply fresh = api().Admin(http::verb::get, "/v1/keys/" + k.id + "/usage");
  ASSERT_EQ(fresh.status, 200u) << fresh.Describe();
  EXPECT_EQ(fresh.Str("id"), k.id);
  EXPECT_EQ(fresh.Object().at("request_count"), 0);
  EXPECT_TRUE(fresh.Object().at("last_used_at").is_null());
  EXPECT_TRUE(fresh.Object().at("last_used_ip").is_null());

  constexpr int kValid = 6;
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(Verify(api(), k.key, {"reports:read"}).Str("code"), "VALID");
  for (int i = 0; i < 2; ++i) ASSERT_EQ(Auth(api(), k.key, "reports:read").status, 200u);
  ASSERT_EQ(
      api().Send(http::verb::get, "/v1/auth", {}, {{"Authorization", "Bearer " + k.key}}).status,
      200u);
  // Refusals are not usage.
  ASSERT_EQ(Verify(api(), k.key, {"orders:write"}).Str("code"), "INSUFFICIENT_SCOPE");
  ASSERT_EQ(Auth(api(), k.key, "orders:write").status, 403u);
  ASSERT_EQ(Verify(api(), FlipChar(k.key, 20)).Str("code"), "MALFORMED");

  std::int64_t count = -1;
  EXPECT_TRUE(PollUntil([&] { return (count = RequestCount(api(), k.id)) == kValid; }))
      << "request_count is " << count << ", expected " << kValid;
  const Reply usage = api().Admin(http::verb::get, "/v1/keys/" + k.id + "/usage");
  EXPECT_EQ(usage.Str("last_used_ip"), "127.0.0.1") << usage.Describe();
  EXPECT_TRUE(usage.Object().at("last_used_at").is_string()) << usage.Describe();

  // The periodic flush (every second by default) writes it to the record.
  Reply record;
  EXPECT_TRUE(PollUntil([&] {
    record = api().Admin(http::verb::get, "/v1/keys/" + k.id);
    return record.Object().contains("usage_count") && record.Object().at("usage_count") == kValid;
  })) << record.Describe();
  EXPECT_EQ(RequestCount(api(), k.id), kValid) << "flushed usage counted twice";

  // Writing pending usage out on demand must neither lose nor double it either.
  ASSERT_EQ(Verify(api(), k.key).Str("code"), "VALID");
  const Reply flushed =
      api().Admin(http::verb::post, "/admin/cache/invalidate", R"({"type":"usage"})");
  ASSERT_EQ(flushed.status, 200u) << flushed.Describe();
  EXPECT_EQ(RequestCount(api(), k.id), kValid + 1);
  record = api().Admin(http::verb::get, "/v1/keys/" + k.id);
  EXPECT_EQ(record.Object().at("usage_count"), kValid + 1) << record.Describe();
}

TEST_F(IntegLifecycle, OwnerIdsInThePathArePercentDecoded) {
  const std::string owner = UniqueOwner("alice smith+zo\xc3\xab");
  const CreatedKey k = CreateKey(api(), owner);
  std::string encoded;
  for (unsigned char c : owner) {
    static const char* kHex = "0123456789ABCDEF";
    if (std::isalnum(c) || c == '-') {
      encoded.push_back(static_cast<char>(c));
    } else {
      encoded += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  const Reply list = api().Admin(http::verb::get, "/v1/owners/" + encoded + "/keys");
  ASSERT_EQ(list.status, 200u) << list.Describe();
  EXPECT_EQ(list.Str("owner_id"), owner);
  EXPECT_EQ(list.Object().at("count"), 1) << list.Describe();
  EXPECT_NE(list.body.find(k.id), std::string::npos);
}

class IntegOwnerLimit : public ServerTest<IntegOwnerLimit> {
 public:
  static EnvVars Env() { return {{"KEYCACHE_MAX_KEYS_PER_OWNER", "3"}}; }
};

TEST_F(IntegOwnerLimit, FourthLiveKeyIsRefusedUntilOneIsRevoked) {
  const std::string owner = UniqueOwner("limit");
  std::vector<CreatedKey> keys;
  for (int i = 0; i < 3; ++i) keys.push_back(CreateKey(api(), owner));
  boost::json::object body{
      {"owner_id", owner}, {"name", "fourth"}, {"scopes", boost::json::array()}};
  const Reply refused = api().Admin(http::verb::post, "/v1/keys", ToJson(body));
  ExpectApiError(refused, 409, "", "fourth key");
  EXPECT_EQ(refused.Str("error"), "key_limit_exceeded");

  CreateKey(api(), UniqueOwner("limit-other"));  // other owners are not affected

  ASSERT_EQ(api().Admin(http::verb::post, "/v1/keys/" + keys[0].id + "/revoke").status, 200u);
  const Reply again = api().Admin(http::verb::post, "/v1/keys", ToJson(body));
  EXPECT_EQ(again.status, 201u) << again.Describe();
  EXPECT_EQ(api().Admin(http::verb::post, "/v1/keys", ToJson(body)).status, 409u);
}

}  // namespace
}  // namespace keycache::testing
