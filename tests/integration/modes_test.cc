// Running without the cache (EMERGENCY_MODE=true or API_KEY_CACHE_ENABLED=false): every answer
// comes from the database, stays correct, and says BYPASS; cache health reports it.
#include <gtest/gtest.h>

#include "integration/integration_util.h"

namespace keycache::testing {
namespace {

struct Mode {
  const char* name;
  EnvVars env;
};

// Test names and ctest names show the mode, not the bytes of the struct.
void PrintTo(const Mode& mode, std::ostream* os) { *os << mode.name; }

class CacheBypassed : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    server_ = std::make_unique<KeycachedProcess>(KeycachedOptions{GetParam().env, std::nullopt});
    const ::testing::AssertionResult started = server_->Start();
    started_ = static_cast<bool>(started);
    ASSERT_TRUE(started);
    api_ = std::make_unique<ApiClient>(server_->port(), server_->admin_token());
  }
  void TearDown() override {
    if (started_) ExpectCleanStop(*server_);  // also catches a crash during the test
  }

  ApiClient& api() { return *api_; }

  std::unique_ptr<KeycachedProcess> server_;
  std::unique_ptr<ApiClient> api_;
  bool started_ = false;
};

void ExpectBypass(const Reply& r, std::string_view code, std::string_view context) {
  SCOPED_TRACE(std::string(context));
  EXPECT_EQ(r.status, 200u) << r.Describe();
  EXPECT_EQ(r.Str("code"), code) << r.Describe();
  EXPECT_EQ(r.Header("X-Cache-Status"), "BYPASS") << r.Describe();
}

TEST_P(CacheBypassed, VerificationsStayCorrectAndSayBypass) {
  const std::string owner = UniqueOwner("bypass");
  const CreatedKey k = CreateKey(api(), owner, {"reports:read"});
  ExpectBypass(Verify(api(), k.key, {"reports:read"}), "VALID", "first");
  ExpectBypass(Verify(api(), k.key, {"reports:read"}), "VALID", "second");
  ExpectBypass(Verify(api(), k.key, {"orders:write"}), "INSUFFICIENT_SCOPE", "scope");
  const Reply auth = Auth(api(), k.key, "reports:read");
  EXPECT_EQ(auth.status, 200u) << auth.Describe();
  EXPECT_EQ(auth.Header("X-Cache-Status"), "BYPASS");

  const std::string unknown = UnknownIssuedKey(server_->pepper());
  ExpectBypass(Verify(api(), unknown), "NOT_FOUND", "unknown");
  ExpectBypass(Verify(api(), unknown), "NOT_FOUND", "unknown again");
  ExpectBypass(Verify(api(), "garbage"), "MALFORMED", "garbage");

  ASSERT_EQ(
      api().Admin(http::verb::patch, "/v1/keys/" + k.id, R"({"scopes":["orders:write"]})").status,
      200u);
  ExpectBypass(Verify(api(), k.key, {"orders:write"}), "VALID", "after the scope change");
  ExpectBypass(Verify(api(), k.key, {"reports:read"}), "INSUFFICIENT_SCOPE", "old scope");

  ASSERT_EQ(api().Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke").status, 200u);
  ExpectBypass(Verify(api(), k.key, {"orders:write"}), "REVOKED", "after revoke");
  EXPECT_EQ(Auth(api(), k.key).status, 401u);

  const Reply list = api().Admin(http::verb::get, "/v1/owners/" + owner + "/keys");
  EXPECT_EQ(list.status, 200u) << list.Describe();
  EXPECT_EQ(list.Header("X-Cache-Status"), "BYPASS");
  EXPECT_EQ(api().Admin(http::verb::get, "/v1/owners/" + owner + "/keys").Header("X-Cache-Status"),
            "BYPASS");

  std::int64_t count = -1;
  EXPECT_TRUE(PollUntil([&] { return (count = RequestCount(api(), k.id)) == 4; }))
      << "request_count " << count << ", expected the 4 valid verifications";
}

TEST_P(CacheBypassed, CacheHealthIsDegradedWhileTheServiceIsReady) {
  const Reply health = api().Send(http::verb::get, "/health/cache");
  EXPECT_EQ(health.status, 503u) << health.Describe();
  EXPECT_EQ(health.Str("status"), "degraded");
  EXPECT_FALSE(health.Str("reason").empty()) << health.Describe();
  EXPECT_NE(health.body.find("hitRate"), std::string::npos) << health.Describe();

  const Reply ready = api().Send(http::verb::get, "/health/ready");
  EXPECT_EQ(ready.status, 200u) << ready.Describe();
  EXPECT_EQ(api().Send(http::verb::get, "/health/live").status, 200u);

  const Reply warm = api().Admin(http::verb::post, "/admin/cache/warm");
  ExpectApiError(warm, 409, "", "warming a disabled cache");
  const Reply stats = api().Admin(http::verb::get, "/admin/cache/stats");
  ASSERT_EQ(stats.status, 200u) << stats.Describe();
  EXPECT_EQ(stats.Str("status"), "degraded");
  const bool emergency = GetParam().env.count("EMERGENCY_MODE") > 0;
  EXPECT_EQ(stats.Object().at("emergency_mode"), emergency);
  EXPECT_EQ(stats.Object().at("enabled"), emergency);  // the enabled flag is untouched by emergency
}

INSTANTIATE_TEST_SUITE_P(
    IntegModes, CacheBypassed,
    ::testing::Values(Mode{"EmergencyMode", {{"EMERGENCY_MODE", "true"}}},
                      Mode{"CacheDisabled", {{"API_KEY_CACHE_ENABLED", "false"}}}),
    [](const ::testing::TestParamInfo<Mode>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace keycache::testing
