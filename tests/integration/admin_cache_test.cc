// Cache administration over real HTTP: /admin/cache/stats, /admin/cache/invalidate (every
// target, and bad bodies), /admin/cache/warm.
#include <gtest/gtest.h>

#include "integration/integration_util.h"

namespace keycache::testing {
namespace {

class IntegAdminCache : public ServerTest<IntegAdminCache> {
 protected:
  Reply Invalidate(const std::string& body) {
    return api().Admin(http::verb::post, "/admin/cache/invalidate", body);
  }
  std::string VerifyStatus(const std::string& key) {
    const Reply r = Verify(api(), key);
    EXPECT_EQ(r.Str("code"), "VALID") << r.Describe();
    return r.Header("X-Cache-Status");
  }
  std::string ListStatus(const std::string& owner) {
    const Reply r = api().Admin(http::verb::get, "/v1/owners/" + owner + "/keys");
    EXPECT_EQ(r.status, 200u) << r.Describe();
    return r.Header("X-Cache-Status");
  }
};

bool IsCount(const boost::json::value* v) {
  return v != nullptr && (v->is_uint64() || (v->is_int64() && v->as_int64() >= 0));
}

TEST_F(IntegAdminCache, StatsHaveTheDocumentedShape) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("stats"), {"reports:read"});
  ASSERT_EQ(Verify(api(), k.key, {"reports:read"}).Str("code"), "VALID");

  const Reply r = api().Admin(http::verb::get, "/admin/cache/stats");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  const boost::json::value& s = r.json;
  EXPECT_EQ(s.at("enabled"), true);
  EXPECT_EQ(s.at("emergency_mode"), false);
  EXPECT_EQ(s.at("status"), "healthy");
  ASSERT_TRUE(s.at("hit_rate").is_number()) << r.Describe();
  const double hit_rate = s.at("hit_rate").to_number<double>();
  EXPECT_GE(hit_rate, 0.0);
  EXPECT_LE(hit_rate, 1.0);
  EXPECT_TRUE(IsCount(Member(s, {"window_lookups"})));
  for (const char* type : {"validation", "scope", "user_list", "usage", "negative"}) {
    EXPECT_TRUE(IsCount(Member(s, {"entries", type}))) << type << ": " << r.Describe();
  }
  EXPECT_GE(Member(s, {"entries", "validation"})->to_number<double>(), 1.0) << r.Describe();
  EXPECT_TRUE(IsCount(Member(s, {"bytes"})));
  ASSERT_TRUE(IsCount(Member(s, {"capacity_bytes"})));
  const double capacity = s.at("capacity_bytes").to_number<double>();
  EXPECT_GT(capacity, 0.0);
  EXPECT_LE(capacity, 512.0 * 1024 * 1024) << "API_KEY_CACHE_MAX_MEMORY defaults to 512mb";
  const std::vector<std::pair<const char*, int>> ttls = {
      {"validation", 300}, {"scope", 600}, {"user_list", 1800}, {"usage", 60}, {"negative", 30}};
  for (const auto& [type, seconds] : ttls) {
    const auto* ttl = Member(s, {"ttl_seconds", type});
    ASSERT_NE(ttl, nullptr) << type << ": " << r.Describe();
    EXPECT_EQ(*ttl, seconds) << type;
  }
}

TEST_F(IntegAdminCache, InvalidatingAKeyMakesItsNextVerificationAMiss) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("inv-key"));
  const CreatedKey other = CreateKey(api(), UniqueOwner("inv-key"));
  EXPECT_EQ(VerifyStatus(k.key), "MISS");
  EXPECT_EQ(VerifyStatus(other.key), "MISS");
  EXPECT_EQ(VerifyStatus(k.key), "HIT");

  const Reply r = Invalidate(R"({"key_id":")" + k.id + "\"}");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_EQ(r.Str("invalidated"), "key");
  EXPECT_EQ(r.Str("key_id"), k.id);
  EXPECT_EQ(VerifyStatus(k.key), "MISS");
  EXPECT_EQ(VerifyStatus(k.key), "HIT");
  EXPECT_EQ(VerifyStatus(other.key), "HIT") << "other keys stay cached";
}

TEST_F(IntegAdminCache, InvalidatingAnOwnerRefreshesItsKeyList) {
  const std::string owner = UniqueOwner("inv-owner");
  CreateKey(api(), owner);
  EXPECT_EQ(ListStatus(owner), "MISS");
  EXPECT_EQ(ListStatus(owner), "HIT");
  const Reply r = Invalidate(ToJson(boost::json::object{{"owner_id", owner}}));
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_EQ(r.Str("invalidated"), "owner");
  EXPECT_EQ(r.Str("owner_id"), owner);
  EXPECT_EQ(ListStatus(owner), "MISS");
}

TEST_F(IntegAdminCache, InvalidatingByTypeOrEverything) {
  const std::string owner = UniqueOwner("inv-type");
  const CreatedKey k = CreateKey(api(), owner, {"reports:read"});
  auto warm_up = [&] {
    Verify(api(), k.key, {"reports:read"});
    ListStatus(owner);
    EXPECT_EQ(VerifyStatus(k.key), "HIT");
    EXPECT_EQ(ListStatus(owner), "HIT");
  };

  warm_up();
  Reply r = Invalidate(R"({"type":"validation"})");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_EQ(r.Str("invalidated"), "validation");
  EXPECT_EQ(VerifyStatus(k.key), "MISS");

  warm_up();
  r = Invalidate(R"({"type":"user_list"})");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_EQ(r.Str("invalidated"), "user_list");
  EXPECT_EQ(ListStatus(owner), "MISS");
  EXPECT_EQ(VerifyStatus(k.key), "HIT") << "only the owner lists were cleared";

  r = Invalidate(R"({"type":"scope"})");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_EQ(r.Str("invalidated"), "scope");
  EXPECT_EQ(Verify(api(), k.key, {"reports:read"}).Str("code"), "VALID");

  r = Invalidate(R"({"type":"usage"})");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_EQ(r.Str("invalidated"), "usage");
  EXPECT_TRUE(IsCount(Member(r.json, {"flushed_keys"}))) << r.Describe();

  for (const std::string body : {R"({"type":"all"})", "{}", ""}) {
    warm_up();
    r = Invalidate(body);
    ASSERT_EQ(r.status, 200u) << body << ": " << r.Describe();
    EXPECT_EQ(r.Str("invalidated"), "all") << body;
    EXPECT_EQ(VerifyStatus(k.key), "MISS") << body;
    EXPECT_EQ(ListStatus(owner), "MISS") << body;
  }
}

TEST_F(IntegAdminCache, InvalidateRefusesBadBodies) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("inv-bad"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"type":"bogus"})", "type"},
      {R"({"type":5})", "type"},
      {R"({"type":null})", "type"},
      {R"({"key_id":"short"})", "key_id"},
      {R"({"key_id":5})", "key_id"},
      {R"({"owner_id":""})", "owner_id"},
      {R"({"owner_id":5})", "owner_id"},
      {R"({"type":"all","key_id":")" + k.id + "\"}", "one of"},
      {R"({"key_id":")" + k.id + R"(","owner_id":"x"})", "one of"},
      {R"({"what":"ever"})", "what"},
      {"[1]", "object"},
      {"{", "JSON"},
  };
  for (const auto& [body, mention] : cases) ExpectApiError(Invalidate(body), 400, mention, body);
}

TEST_F(IntegAdminCache, WarmReturnsCountsAndLoadsUsedKeys) {
  std::vector<CreatedKey> keys;
  for (int i = 0; i < 3; ++i) {
    keys.push_back(CreateKey(api(), UniqueOwner("warm")));
    ASSERT_EQ(Verify(api(), keys.back().key).Str("code"), "VALID");
  }
  ASSERT_EQ(Invalidate(R"({"type":"usage"})").status, 200u);  // usage reaches the store
  ASSERT_EQ(Invalidate("{}").status, 200u);

  const Reply r = api().Admin(http::verb::post, "/admin/cache/warm");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  ASSERT_TRUE(IsCount(Member(r.json, {"candidates"}))) << r.Describe();
  ASSERT_TRUE(IsCount(Member(r.json, {"loaded"}))) << r.Describe();
  EXPECT_GE(r.json.at("candidates").to_number<double>(), 3.0) << r.Describe();
  EXPECT_GE(r.json.at("loaded").to_number<double>(), 3.0) << r.Describe();
  EXPECT_LE(r.json.at("loaded").to_number<double>(), r.json.at("candidates").to_number<double>());
  for (const auto& k : keys) EXPECT_EQ(VerifyStatus(k.key), "HIT") << "warmed: " << k.id;
}

}  // namespace
}  // namespace keycache::testing
