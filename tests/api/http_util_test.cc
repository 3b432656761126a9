// Request helpers of the API: the client address behind trusted proxies, percent-decoding,
// query parameters and the admin bearer check.
#include "api/http_util.h"

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>
#include <optional>
#include <string>

namespace keycache {
namespace {

namespace http = boost::beast::http;
using boost::asio::ip::make_address;

TrustedProxies Proxies(std::string_view text) {
  auto parsed = TrustedProxies::Parse(text);
  if (!parsed) {
    ADD_FAILURE() << parsed.error();
    return {};
  }
  return *parsed;
}

class ClientIpTest : public ::testing::Test {
 protected:
  std::string Ip(std::string_view peer, std::optional<std::string> xff = std::nullopt,
                 std::optional<std::string> real_ip = std::nullopt) {
    Request req{http::verb::get, "/v1/auth", 11};
    if (xff) req.set("X-Forwarded-For", *xff);
    if (real_ip) req.set("X-Real-IP", *real_ip);
    RequestContext ctx{req, make_address(std::string(peer)), "/v1/auth", "", {}, {}};
    return ClientIp(ctx, proxies_);
  }

  TrustedProxies proxies_ = Proxies("10.0.0.0/8, 192.0.2.1, fd00::/8");
};

TEST_F(ClientIpTest, WithoutTrustedProxiesThePeerIsTheClient) {
  proxies_ = TrustedProxies();
  EXPECT_EQ(Ip("10.0.0.1", "203.0.113.7", "203.0.113.8"), "10.0.0.1");
}

TEST_F(ClientIpTest, AnUntrustedPeerCannotForgeItsAddress) {
  EXPECT_EQ(Ip("198.51.100.1", "203.0.113.7"), "198.51.100.1");
  EXPECT_EQ(Ip("198.51.100.1", std::nullopt, "203.0.113.8"), "198.51.100.1");
  EXPECT_EQ(Ip("2001:db8::5", "203.0.113.7"), "2001:db8::5");
}

TEST_F(ClientIpTest, ATrustedPeerIsBelievedForTheNearestUntrustedHop) {
  EXPECT_EQ(Ip("10.0.0.1", "203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(Ip("192.0.2.1", "203.0.113.7"), "203.0.113.7");
  // Walk from the right, skipping our own proxies; what the client wrote further left is not
  // believed.
  EXPECT_EQ(Ip("10.0.0.1", "203.0.113.7, 10.0.0.2"), "203.0.113.7");
  EXPECT_EQ(Ip("10.0.0.1", "1.1.1.1, 203.0.113.7, 10.0.0.3, 10.0.0.2"), "203.0.113.7");
  EXPECT_EQ(Ip("10.0.0.1", "1.1.1.1,203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(Ip("10.0.0.1", " \t203.0.113.7 , 10.0.0.2\t"), "203.0.113.7");
  EXPECT_EQ(Ip("fd00::1", "2001:db8::7, fd00::2"), "2001:db8::7");
  // XFF wins over X-Real-IP when it names someone.
  EXPECT_EQ(Ip("10.0.0.1", "203.0.113.7", "203.0.113.8"), "203.0.113.7");
}

TEST_F(ClientIpTest, AnIpv4MappedPeerMatchesItsIpv4Block) {
  EXPECT_EQ(Ip("::ffff:10.0.0.1", "203.0.113.7"), "203.0.113.7");
}

TEST_F(ClientIpTest, WhenEveryHopIsTrustedTheLeftmostIsTheClient) {
  EXPECT_EQ(Ip("10.0.0.1", "10.0.0.3, 10.0.0.2"), "10.0.0.3");
}

TEST_F(ClientIpTest, GarbageLeftOfTheClientIsIgnored) {
  EXPECT_EQ(Ip("10.0.0.1", "not-an-ip, 203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(Ip("10.0.0.1", "unknown, , 203.0.113.7, 10.0.0.2"), "203.0.113.7");
}

TEST_F(ClientIpTest, GarbageInTheTrustedPartIsNeverReturnedNorWalkedPast) {
  // The nearest hop is unparseable: fall back to X-Real-IP, then to the peer.
  EXPECT_EQ(Ip("10.0.0.1", "203.0.113.7, garbage"), "10.0.0.1");
  EXPECT_EQ(Ip("10.0.0.1", "203.0.113.7, garbage", "203.0.113.8"), "203.0.113.8");
  EXPECT_EQ(Ip("10.0.0.1", "203.0.113.7, 203.0.113.9:443"), "10.0.0.1");
  EXPECT_EQ(Ip("10.0.0.1", ""), "10.0.0.1");
  // Behind garbage, nothing further left is believed: the answer is one of our own hops.
  const std::string behind = Ip("10.0.0.1", "203.0.113.7, garbage, 10.0.0.2");
  EXPECT_NE(behind, "203.0.113.7");
  EXPECT_TRUE(behind == "10.0.0.2" || behind == "10.0.0.1") << behind;
}

TEST_F(ClientIpTest, XRealIpIsUsedWithoutForwardedFor) {
  EXPECT_EQ(Ip("10.0.0.1", std::nullopt, "203.0.113.8"), "203.0.113.8");
  EXPECT_EQ(Ip("10.0.0.1", std::nullopt, " 2001:db8::8 "), "2001:db8::8");
  EXPECT_EQ(Ip("10.0.0.1", std::nullopt, "garbage"), "10.0.0.1");
  EXPECT_EQ(Ip("10.0.0.1"), "10.0.0.1");
}

TEST(PercentDecodeTest, DecodesEscapes) {
  EXPECT_EQ(PercentDecode("plain"), "plain");
  EXPECT_EQ(PercentDecode(""), "");
  EXPECT_EQ(PercentDecode("a%20b"), "a b");
  EXPECT_EQ(PercentDecode("%41%6a%6A"), "Ajj");
  EXPECT_EQ(PercentDecode("users%3Aread"), "users:read");
  EXPECT_EQ(PercentDecode("a%2Fb"), "a/b");
  EXPECT_EQ(PercentDecode("%25"), "%");
  EXPECT_EQ(PercentDecode("%00"), std::string(1, '\0'));
  EXPECT_EQ(PercentDecode("%C3%A9"), "\xC3\xA9");
}

TEST(PercentDecodeTest, PlusIsASpaceOnlyInQueryValues) {
  EXPECT_EQ(PercentDecode("a+b"), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("a%2Bb", true), "a+b");
}

TEST(PercentDecodeTest, RefusesBadEscapes) {
  for (const char* bad : {"%", "%4", "a%", "a%4", "%zz", "%4g", "%g4", "100%", "%%41"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(PercentDecode(bad), std::nullopt);
    EXPECT_EQ(PercentDecode(bad, true), std::nullopt);
  }
}

TEST(QueryParamTest, FindsAndDecodesValues) {
  EXPECT_EQ(QueryParam("a=1&b=2", "a"), "1");
  EXPECT_EQ(QueryParam("a=1&b=2", "b"), "2");
  EXPECT_EQ(QueryParam("scope=users%3Aread", "scope"), "users:read");
  EXPECT_EQ(QueryParam("q=a+b%2Bc", "q"), "a b+c");
  EXPECT_EQ(QueryParam("a=1&a=2", "a"), "1");  // the first one wins
  EXPECT_EQ(QueryParam("&&a=1&", "a"), "1");
  EXPECT_EQ(QueryParam("flag&a=1", "flag"), "");
  EXPECT_EQ(QueryParam("a=", "a"), "");
  EXPECT_EQ(QueryParam("a=x=y", "a"), "x=y");
}

TEST(QueryParamTest, AbsentOrInvalidIsNullopt) {
  EXPECT_EQ(QueryParam("", "a"), std::nullopt);
  EXPECT_EQ(QueryParam("ab=1&b=2", "a"), std::nullopt);  // no prefix matches
  EXPECT_EQ(QueryParam("A=1", "a"), std::nullopt);       // names are case-sensitive
  EXPECT_EQ(QueryParam("a=%zz", "a"), std::nullopt);
  EXPECT_EQ(QueryParam("b=1", "a"), std::nullopt);
}

class RequireAdminTest : public ::testing::Test {
 protected:
  std::optional<Response> Check(std::optional<std::string> authorization,
                                std::string_view token = kToken) {
    Request req{http::verb::post, "/admin/cache/warm", 11};
    if (authorization) req.set(http::field::authorization, *authorization);
    return RequireAdmin(req, token);
  }
  static void ExpectUnauthorized(const std::optional<Response>& res) {
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 401u);
    EXPECT_NE(res->body().find("\"unauthorized\""), std::string::npos) << res->body();
    EXPECT_NE((*res)[http::field::www_authenticate].find("Bearer"), std::string_view::npos);
    EXPECT_EQ(res->body().find(kToken), std::string::npos);  // never echoes the secret
  }

  static constexpr std::string_view kToken = "s3cr3t-admin-token-0123456789";
};

TEST_F(RequireAdminTest, TheRightTokenIsAllowed) {
  EXPECT_EQ(Check("Bearer " + std::string(kToken)), std::nullopt);
}

TEST_F(RequireAdminTest, TheSchemeIsCaseInsensitive) {
  EXPECT_EQ(Check("bearer " + std::string(kToken)), std::nullopt);
  EXPECT_EQ(Check("BEARER " + std::string(kToken)), std::nullopt);
}

TEST_F(RequireAdminTest, AWrongTokenIsRefused) {
  ExpectUnauthorized(Check("Bearer wrong"));
  ExpectUnauthorized(Check("Bearer " + std::string(kToken.substr(1))));
  ExpectUnauthorized(Check("Bearer " + std::string(kToken) + "x"));
  ExpectUnauthorized(Check("Bearer " + std::string(kToken.substr(0, kToken.size() - 1))));
}

TEST_F(RequireAdminTest, AMissingOrMalformedCredentialIsRefused) {
  ExpectUnauthorized(Check(std::nullopt));
  ExpectUnauthorized(Check(""));
  ExpectUnauthorized(Check("Bearer"));
  ExpectUnauthorized(Check("Bearer "));
  ExpectUnauthorized(Check("Bearer    "));
  ExpectUnauthorized(Check(std::string(kToken)));  // no scheme
  ExpectUnauthorized(Check("Basic " + std::string(kToken)));
  ExpectUnauthorized(Check("Bearer" + std::string(kToken)));
}

TEST_F(RequireAdminTest, AnEmptyConfiguredTokenAllowsNobody) {
  ExpectUnauthorized(Check("Bearer ", ""));
  ExpectUnauthorized(Check(std::nullopt, ""));
}

TEST(BearerTokenTest, ExtractsTheCredential) {
  Request req{http::verb::get, "/", 11};
  EXPECT_EQ(BearerToken(req), "");
  req.set(http::field::authorization, "Bearer  abc ");
  EXPECT_EQ(BearerToken(req), "abc");
  req.set(http::field::authorization, "bEaReR xyz");
  EXPECT_EQ(BearerToken(req), "xyz");
  req.set(http::field::authorization, "Token xyz");
  EXPECT_EQ(BearerToken(req), "");
}

}  // namespace
}  // namespace keycache
