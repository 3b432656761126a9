// Bad input to the REST API: every refusal is a 4xx with a JSON {error, message} that names the
// problem, refused requests change nothing, and none of it hurts the server (each test ends by
// checking that it is healthy). HTTP-level abuse is in http_abuse_test.cc.
#include <gtest/gtest.h>

#include "integration/integration_util.h"

namespace keycache::testing {
namespace {

class IntegBadInput : public ServerTest<IntegBadInput> {
 protected:
  void TearDown() override { ExpectHealthy(server().port()); }

  // A valid create body for a fresh owner; tests spoil one member of it.
  static boost::json::object CreateBody() {
    return {{"owner_id", UniqueOwner("bad")}, {"name", "n"}, {"scopes", boost::json::array()}};
  }
  Reply Create(const boost::json::object& body) {
    return api().Admin(http::verb::post, "/v1/keys", ToJson(body));
  }
};

struct Case {
  std::string body;
  std::string mention;  // what the message must name
};

TEST_F(IntegBadInput, MalformedJsonIsRefusedOnEveryJsonEndpoint) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("json"));
  const std::vector<std::pair<http::verb, std::string>> endpoints = {
      {http::verb::post, "/v1/keys"},
      {http::verb::patch, "/v1/keys/" + k.id},
      {http::verb::post, "/v1/keys/" + k.id + "/revoke"},
      {http::verb::post, "/v1/keys/" + k.id + "/rotate"},
      {http::verb::post, "/v1/keys/verify"},
      {http::verb::post, "/admin/cache/invalidate"},
  };
  const std::vector<std::string> malformed = {"{",           "{\"name\":}", "not json",
                                              "{} trailing", "{\"a\":1,}",  "\xff\xfe"};
  const std::vector<std::string> not_objects = {"[1,2]", "\"text\"", "42", "null", "true"};
  for (const auto& [verb, path] : endpoints) {
    for (const auto& body : malformed) {
      const Reply r = api().Admin(verb, path, body);
      ExpectApiError(r, 400, "JSON", std::string(http::to_string(verb)) + " " + path + " " + body);
      EXPECT_EQ(r.Str("error"), "invalid_json") << path << " " << body;
    }
    for (const auto& body : not_objects) {
      ExpectApiError(api().Admin(verb, path, body), 400, "object",
                     std::string(http::to_string(verb)) + " " + path + " " + body);
    }
  }
  // None of that touched the key.
  const Reply got = api().Admin(http::verb::get, "/v1/keys/" + k.id);
  EXPECT_EQ(got.Str("state"), "active") << got.Describe();
  EXPECT_EQ(Verify(api(), k.key).Str("code"), "VALID");
}

TEST_F(IntegBadInput, CreateRefusesWrongTypesForEveryField) {
  const std::vector<std::pair<std::string, boost::json::value>> cases = {
      {"owner_id", 1},
      {"owner_id", nullptr},
      {"owner_id", boost::json::array{"a"}},
      {"name", 5},
      {"name", nullptr},
      {"name", boost::json::object()},
      {"scopes", "reports:read"},
      {"scopes", boost::json::array{1}},
      {"scopes", boost::json::object{{"a", "b"}}},
      {"scopes", nullptr},
      {"expires_in_days", "30"},
      {"expires_in_days", 1.5},
      {"expires_in_days", true},
      {"expires_in_days", nullptr},
      {"expires_at", 1234},
      {"expires_at", "tomorrow"},
      {"expires_at", true},
      {"metadata", "x"},
      {"metadata", boost::json::array{1}},
      {"metadata", 5},
  };
  for (const auto& [field, value] : cases) {
    boost::json::object body = CreateBody();
    body[field] = value;
    ExpectApiError(Create(body), 400, field, ToJson(body));
  }
}

TEST_F(IntegBadInput, PatchRefusesWrongTypesAndLeavesTheKeyUnchanged) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("patch"), {"reports:read"});
  const std::vector<Case> cases = {
      {R"({"name":1})", "name"},
      {R"({"name":""})", "name"},
      {R"({"name":null})", "name"},
      {R"({"scopes":"reports:read"})", "scopes"},
      {R"({"scopes":[true]})", "scopes"},
      {R"({"scopes":null})", "scopes"},
      {R"({"expires_at":5})", "expires_at"},
      {R"({"expires_at":"garbage"})", "expires_at"},
      {R"({"enabled":"yes"})", "enabled"},
      {R"({"enabled":1})", "enabled"},
      {R"({"enabled":null})", "enabled"},
      {R"({"metadata":"x"})", "metadata"},
      {R"({"metadata":[1]})", "metadata"},
      {R"({})", "name"},
      // One bad field spoils the whole patch.
      {R"({"name":"changed","enabled":"no"})", "enabled"},
  };
  for (const auto& c : cases) {
    ExpectApiError(api().Admin(http::verb::patch, "/v1/keys/" + k.id, c.body), 400, c.mention,
                   c.body);
  }
  const Reply got = api().Admin(http::verb::get, "/v1/keys/" + k.id);
  EXPECT_EQ(got.Str("name"), "integration key") << got.Describe();
  EXPECT_EQ(got.Object().at("enabled"), true);
  EXPECT_EQ(got.Object().at("scopes"), (boost::json::array{"reports:read"}));
}

TEST_F(IntegBadInput, UnknownFieldsAreRefusedByName) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("unknown"));
  boost::json::object create = CreateBody();
  create["owner"] = "x";
  ExpectApiError(Create(create), 400, "owner'", "create");
  const std::vector<std::tuple<http::verb, std::string, std::string, std::string>> cases = {
      {http::verb::patch, "/v1/keys/" + k.id, R"({"state":"revoked"})", "state"},
      {http::verb::patch, "/v1/keys/" + k.id, R"({"owner_id":"someone-else"})", "owner_id"},
      {http::verb::post, "/v1/keys/verify", R"({"key":"ak_x","scope":["a:b"]})", "scope"},
      {http::verb::post, "/v1/keys/" + k.id + "/revoke", R"({"why":"x"})", "why"},
      {http::verb::post, "/v1/keys/" + k.id + "/rotate", R"({"grace":5})", "grace"},
      {http::verb::post, "/admin/cache/invalidate", R"({"everything":true})", "everything"},
  };
  for (const auto& [verb, path, body, field] : cases) {
    ExpectApiError(api().Admin(verb, path, body), 400, field, path + " " + body);
  }
  EXPECT_EQ(api().Admin(http::verb::get, "/v1/keys/" + k.id).Str("state"), "active");
}

TEST_F(IntegBadInput, MissingRequiredFieldsAreNamed) {
  for (const char* field : {"owner_id", "name", "scopes"}) {
    boost::json::object body = CreateBody();
    body.erase(field);
    ExpectApiError(Create(body), 400, field, std::string("without ") + field);
  }
  ExpectApiError(api().Admin(http::verb::post, "/v1/keys", ""), 400, "", "empty create body");
  ExpectApiError(api().Send(http::verb::post, "/v1/keys/verify", R"({"scopes":[]})"), 400, "key",
                 "verify without key");
  ExpectApiError(api().Send(http::verb::post, "/v1/keys/verify", R"({"key":5})"), 400, "key",
                 "verify with a number");
  ExpectApiError(api().Send(http::verb::post, "/v1/keys/verify", ""), 400, "", "empty verify body");
}

TEST_F(IntegBadInput, NamesAndOwnerIdsAreBounded) {
  boost::json::object body = CreateBody();
  body["name"] = std::string(100, 'n');
  EXPECT_EQ(Create(body).status, 201u) << "100 characters is allowed";
  body = CreateBody();
  body["name"] = std::string(101, 'n');
  ExpectApiError(Create(body), 400, "name", "101 characters");
  body["name"] = "line\nbreak";
  ExpectApiError(Create(body), 400, "name", "control character");

  const CreatedKey k = CreateKey(api(), UniqueOwner("name"));
  ExpectApiError(api().Admin(http::verb::patch, "/v1/keys/" + k.id,
                             ToJson(boost::json::object{{"name", std::string(101, 'n')}})),
                 400, "name", "patch to 101 characters");

  body = CreateBody();
  body["owner_id"] = std::string(128, 'o');
  EXPECT_EQ(Create(body).status, 201u) << "128 characters is allowed";
  for (const std::string& owner :
       {std::string(129, 'o'), std::string(), std::string("a/b"), std::string("tab\there")}) {
    body["owner_id"] = owner;
    ExpectApiError(Create(body), 400, "owner_id", "owner '" + owner + "'");
  }
  ExpectApiError(api().Admin(http::verb::get, "/v1/owners/a%2Fb/keys"), 400, "owner",
                 "owner with an encoded slash");
}

TEST_F(IntegBadInput, MetadataAndReasonsAreBounded) {
  boost::json::object body = CreateBody();
  body["metadata"] = boost::json::object{{"blob", std::string(4200, 'm')}};
  ExpectApiError(Create(body), 400, "metadata", "metadata over 4096 bytes");
  body["metadata"] = boost::json::object{{"blob", std::string(3000, 'm')}};
  EXPECT_EQ(Create(body).status, 201u) << "3 KB of metadata is allowed";

  const CreatedKey k = CreateKey(api(), UniqueOwner("reason"));
  const std::string revoke = "/v1/keys/" + k.id + "/revoke";
  ExpectApiError(api().Admin(http::verb::post, revoke,
                             ToJson(boost::json::object{{"reason", std::string(201, 'r')}})),
                 400, "reason", "reason of 201 characters");
  ExpectApiError(api().Admin(http::verb::post, revoke, R"({"reason":5})"), 400, "reason",
                 "numeric reason");
  EXPECT_EQ(Verify(api(), k.key).Str("code"), "VALID") << "refused revocations took no effect";
}

TEST_F(IntegBadInput, InvalidScopesAreRefusedEverywhere) {
  const std::vector<std::string> invalid = {"reports",
                                            "reports:",
                                            ":read",
                                            "a:b:c",
                                            "re ports:read",
                                            "reports:read!",
                                            "",
                                            "**",
                                            std::string(64, 'r') + ":read"};
  const CreatedKey k = CreateKey(api(), UniqueOwner("scopes"), {"reports:read"});
  for (const auto& scope : invalid) {
    boost::json::object body = CreateBody();
    body["scopes"] = boost::json::array{"reports:read", boost::json::value(scope)};
    ExpectApiError(Create(body), 400, "scope", "create with '" + scope + "'");
    ExpectApiError(api().Admin(http::verb::patch, "/v1/keys/" + k.id,
                               ToJson(boost::json::object{{"scopes", boost::json::array{scope}}})),
                   400, "scope", "patch with '" + scope + "'");
    ExpectApiError(Verify(api(), k.key, {scope}), 400, "scope", "verify with '" + scope + "'");
  }
  boost::json::array too_many;
  for (int i = 0; i < 65; ++i) too_many.emplace_back("r" + std::to_string(i) + ":read");
  boost::json::object body = CreateBody();
  body["scopes"] = too_many;
  ExpectApiError(Create(body), 400, "scopes", "65 scopes");

  body = CreateBody();
  body["scopes"] = boost::json::array{"*", "*:read", "a.b-c_D9:x", "reports:*"};
  EXPECT_EQ(Create(body).status, 201u) << "valid edge cases";
  EXPECT_EQ(api().Admin(http::verb::get, "/v1/keys/" + k.id).Object().at("scopes"),
            (boost::json::array{"reports:read"}));
}

TEST_F(IntegBadInput, ExpiryIsBounded) {
  for (const std::int64_t days : {0, -1, 3651}) {
    boost::json::object body = CreateBody();
    body["expires_in_days"] = days;
    ExpectApiError(Create(body), 400, "expires_in_days", "days " + std::to_string(days));
  }
  for (const std::int64_t days : {1, 3650}) {
    boost::json::object body = CreateBody();
    body["expires_in_days"] = days;
    EXPECT_EQ(Create(body).status, 201u) << "days " << days;
  }
  boost::json::object body = CreateBody();
  body["expires_at"] = Rfc3339FromNow(-60'000);
  ExpectApiError(Create(body), 400, "expires_at", "expires_at in the past");
  body["expires_at"] = Rfc3339FromNow(3'600'000);
  body["expires_in_days"] = 5;
  ExpectApiError(Create(body), 400, "expires_", "both expiry fields");

  const CreatedKey k = CreateKey(api(), UniqueOwner("expiry"));
  ExpectApiError(api().Admin(http::verb::patch, "/v1/keys/" + k.id,
                             R"({"expires_at":")" + Rfc3339FromNow(-60'000) + "\"}"),
                 400, "expires_at", "patch into the past");
  for (const char* grace : {"-1", "2592001", "1.5", "\"5\""}) {
    ExpectApiError(api().Admin(http::verb::post, "/v1/keys/" + k.id + "/rotate",
                               std::string(R"({"grace_seconds":)") + grace + "}"),
                   400, "grace_seconds", std::string("grace ") + grace);
  }
  EXPECT_EQ(Verify(api(), k.key).Str("code"), "VALID") << "no refused rotation took effect";
}

TEST_F(IntegBadInput, UnknownKeyIdsAre404) {
  const CreatedKey gone = CreateKey(api(), UniqueOwner("ids"));
  ASSERT_EQ(api().Admin(http::verb::delete_, "/v1/keys/" + gone.id).status, 200u);
  for (const std::string& id : {gone.id, std::string("abc"), std::string("AAAAAAAAAAAA"),
                                std::string("zzzzzzzzzzz"), std::string("%00%01")}) {
    const std::string base = "/v1/keys/" + id;
    ExpectApiError(api().Admin(http::verb::get, base), 404, "", "GET " + base);
    ExpectApiError(api().Admin(http::verb::patch, base, R"({"name":"x"})"), 404, "",
                   "PATCH " + base);
    ExpectApiError(api().Admin(http::verb::delete_, base), 404, "", "DELETE " + base);
    ExpectApiError(api().Admin(http::verb::post, base + "/revoke"), 404, "", "revoke " + base);
    ExpectApiError(api().Admin(http::verb::post, base + "/rotate"), 404, "", "rotate " + base);
    ExpectApiError(api().Admin(http::verb::get, base + "/usage"), 404, "", "usage " + base);
  }
}

TEST_F(IntegBadInput, UnknownPathsAre404AndWrongMethodsAre405WithAllow) {
  for (const char* path : {"/v1", "/v1/keys/", "/status/x", "/v1/keys/abc/def/ghi", "/nope",
                           "/health", "/metrics/x", "/admin/cache", "/V1/KEYS"}) {
    ExpectApiError(api().Admin(http::verb::get, path), 404, "", path);
  }
  const CreatedKey k = CreateKey(api(), UniqueOwner("methods"));
  const std::vector<std::tuple<http::verb, std::string, std::vector<std::string>>> cases = {
      {http::verb::put, "/v1/keys", {"POST"}},
      {http::verb::delete_, "/health/live", {"GET"}},
      {http::verb::post, "/metrics", {"GET"}},
      {http::verb::post, "/", {"GET"}},
      {http::verb::delete_, "/status", {"GET"}},
      {http::verb::get, "/admin/cache/warm", {"POST"}},
      {http::verb::get, "/admin/cache/invalidate", {"POST"}},
      {http::verb::put, "/admin/cache/stats", {"GET"}},
      {http::verb::put, "/v1/keys/" + k.id + "/revoke", {"POST"}},
      {http::verb::post, "/v1/keys/" + k.id, {"GET", "PATCH", "DELETE"}},
      {http::verb::patch, "/v1/owners/someone/keys", {"GET"}},
      {http::verb::delete_, "/v1/keys/" + k.id + "/usage", {"GET"}},
  };
  for (const auto& [verb, path, allowed] : cases) {
    const Reply r = api().Admin(verb, path, "{}");
    const std::string what = std::string(http::to_string(verb)) + " " + path;
    ExpectApiError(r, 405, "", what);
    for (const auto& m : allowed) {
      EXPECT_NE(r.Header("Allow").find(m), std::string::npos)
          << what << " Allow: " << r.Header("Allow");
    }
  }
  EXPECT_EQ(api().Admin(http::verb::get, "/v1/keys/" + k.id).Str("state"), "active");
}

TEST_F(IntegBadInput, EveryAdminEndpointNeedsTheAdminToken) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("admin"), {"reports:read"});
  const std::string token = api().admin_token();
  const std::vector<std::tuple<http::verb, std::string, std::string>> endpoints = {
      {http::verb::post, "/v1/keys", ToJson(CreateBody())},
      {http::verb::get, "/v1/keys/" + k.id, ""},
      {http::verb::patch, "/v1/keys/" + k.id, R"({"enabled":false})"},
      {http::verb::delete_, "/v1/keys/" + k.id, ""},
      {http::verb::post, "/v1/keys/" + k.id + "/revoke", "{}"},
      {http::verb::post, "/v1/keys/" + k.id + "/rotate", "{}"},
      {http::verb::get, "/v1/keys/" + k.id + "/usage", ""},
      {http::verb::get, "/v1/owners/someone/keys", ""},
      {http::verb::post, "/admin/cache/warm", ""},
      {http::verb::post, "/admin/cache/invalidate", "{}"},
      {http::verb::get, "/admin/cache/stats", ""},
  };
  const std::vector<std::pair<std::string, ApiClient::Headers>> credentials = {
      {"none", {}},
      {"wrong token", {{"Authorization", "Bearer not-the-admin-token"}}},
      {"token plus a character", {{"Authorization", "Bearer " + token + "x"}}},
      {"token minus a character", {{"Authorization", "Bearer " + token.substr(1)}}},
      {"Basic scheme", {{"Authorization", "Basic " + token}}},
      {"token without scheme", {{"Authorization", token}}},
      {"token as X-API-Key", {{"X-API-Key", token}}},
      {"empty bearer", {{"Authorization", "Bearer "}}},
      {"the key itself", {{"Authorization", "Bearer " + k.key}}},
  };
  for (const auto& [verb, path, body] : endpoints) {
    for (const auto& [name, headers] : credentials) {
      const std::string what = std::string(http::to_string(verb)) + " " + path + " with " + name;
      const Reply r = api().Send(verb, path, body, headers);
      ExpectApiError(r, 401, "", what);
      EXPECT_TRUE(r.HasHeader("WWW-Authenticate")) << what;
    }
  }
  // Nothing was changed by the refused requests.
  const Reply got = api().Admin(http::verb::get, "/v1/keys/" + k.id);
  EXPECT_EQ(got.Str("state"), "active") << got.Describe();
  EXPECT_TRUE(got.Object().at("replaced_by").is_null());
  EXPECT_EQ(Verify(api(), k.key, {"reports:read"}).Str("code"), "VALID");
}

}  // namespace
}  // namespace keycache::testing
