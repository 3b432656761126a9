// keycached talking to a TLS-only Redis: certificates from a CA the test generates with openssl;
// mutual TLS; a server certificate from another CA is refused (the service runs degraded).
#include <gtest/gtest.h>

#include "integration/redis_tier_util.h"
#include "support/test_certs.h"

namespace keycache::testing {
namespace {

class RedisTls : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = MakeTestPki(dir_.path());
    ASSERT_TRUE(pki_.ok) << pki_.error;
  }
  RedisServerOptions TlsRedis(bool other_ca, bool mutual) {
    RedisServerOptions o = SharedRedisDeployment::DefaultRedis();
    o.tls = RedisServerOptions::Tls{other_ca ? pki_.other_server_cert : pki_.server_cert,
                                    other_ca ? pki_.other_server_key : pki_.server_key,
                                    pki_.ca_cert, mutual};
    return o;
  }
  TempDir dir_;
  TestPki pki_;
};

std::string Breaker(ApiClient& api) {
  const auto h = RedisHealth(api);
  const auto* b = Member(h, {"breaker"});
  return b && b->is_string() ? std::string(b->as_string()) : "";
}

TEST_F(RedisTls, MutualTlsWithTheTestCaCarriesTheCacheAndInvalidations) {
  SharedRedisDeployment d(TlsRedis(false, true));
  ASSERT_TRUE(d.StartRedis());
  const EnvVars tls{{"REDIS_TLS_CA", pki_.ca_cert},
                    {"REDIS_TLS_CERT", pki_.client_cert},
                    {"REDIS_TLS_KEY", pki_.client_key}};
  KeycachedProcess* a = d.AddInstance(tls);
  KeycachedProcess* b = d.AddInstance(tls);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ApiClient api_a(a->port(), kSharedToken), api_b(b->port(), kSharedToken);
  ASSERT_TRUE(PollUntil([&] { return Breaker(api_a) == "closed" && Breaker(api_b) == "closed"; }))
      << boost::json::serialize(RedisHealth(api_a));
  ASSERT_TRUE(PollUntil([&] {
    const auto h = RedisHealth(api_b);
    const auto* up = Member(h, {"invalidationChannel", "subscribed"});
    return up && *up == true;
  }));
  const CreatedKey k = CreateKey(api_a, UniqueOwner("tls"));
  ASSERT_EQ(Verify(api_b, k.key).Str("code"), "VALID");
  ASSERT_EQ(Verify(api_b, k.key).Header("X-Cache-Status"), "HIT");
  ASSERT_EQ(api_a.Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", "{}").status, 200u);
  EXPECT_TRUE(PollUntil([&] { return Verify(api_b, k.key).Str("code") == "REVOKED"; }, 5s, 5ms));
  ExpectCleanStop(*a);
  ExpectCleanStop(*b);
}

TEST_F(RedisTls, AServerCertificateFromAnotherCaIsRefused) {
  SharedRedisDeployment d(TlsRedis(true, false));
  ASSERT_TRUE(d.StartRedis());
  KeycachedProcess* a = d.AddInstance({{"REDIS_TLS_CA", pki_.ca_cert}});
  ASSERT_NE(a, nullptr) << "a TLS failure is not fatal: the service runs without Redis";
  ApiClient api(a->port(), kSharedToken);
  const auto h = RedisHealth(api);
  EXPECT_EQ(Breaker(api), "open");
  const auto* err = Member(h, {"lastError"});
  ASSERT_NE(err, nullptr) << boost::json::serialize(h);
  EXPECT_NE(std::string(err->as_string()).find("TLS"), std::string::npos)
      << boost::json::serialize(h);
  const CreatedKey k = CreateKey(api, UniqueOwner("tlsbad"));
  const Reply v = Verify(api, k.key);
  EXPECT_EQ(v.Str("code"), "VALID");
  EXPECT_EQ(v.Header("X-Cache-Status"), "BYPASS");
  ExpectCleanStop(*a);
}

}  // namespace
}  // namespace keycache::testing
