// Abuse at the HTTP level, over raw sockets: bodies and headers over the configured limits, and
// bytes that are not HTTP at all. Each is refused (or the connection closed) and the server
// stays healthy; each test ends by checking that.
#include <gtest/gtest.h>

#include "integration/integration_util.h"

namespace keycache::testing {
namespace {

class IntegHttpAbuse : public ServerTest<IntegHttpAbuse> {
 public:
  static EnvVars Env() {
    return {{"KEYCACHE_MAX_BODY_BYTES", "8kb"}, {"KEYCACHE_MAX_HEADER_BYTES", "2kb"}};
  }

 protected:
  void TearDown() override { ExpectHealthy(server().port()); }
};

// A string literal with its embedded NULs, without the terminating one.
template <std::size_t N>
std::string Bytes(const char (&text)[N]) {
  return std::string(text, N - 1);
}

TEST_F(IntegHttpAbuse, OversizedBodyIs413) {
  const std::string big(9 * 1024, 'x');
  std::string body;
  const std::string fixed = api().Raw(
      "POST /v1/keys/verify HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(big.size()) + "\r\n\r\n" + big);
  EXPECT_EQ(RawStatus(fixed, &body), 413u) << fixed.substr(0, 300);
  EXPECT_NE(body.find("\"error\""), std::string::npos) << body;

  std::string chunked = "POST /v1/keys HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 9; ++i) chunked += "400\r\n" + std::string(1024, 'y') + "\r\n";
  chunked += "0\r\n\r\n";
  const std::string answer = api().Raw(chunked);
  EXPECT_EQ(RawStatus(answer), 413u) << answer.substr(0, 300);

  // Just under the limit is served normally.
  const Reply under = Verify(api(), std::string(7 * 1024, 'k'));
  EXPECT_EQ(under.status, 200u) << under.Describe();
  EXPECT_EQ(under.Str("code"), "MALFORMED");
}

TEST_F(IntegHttpAbuse, OversizedHeadersAre431) {
  const std::string answer =
      api().Raw("GET /health/live HTTP/1.1\r\nHost: t\r\nX-Filler: " + std::string(3 * 1024, 'h') +
                "\r\n\r\n");
  std::string body;
  EXPECT_EQ(RawStatus(answer, &body), 431u) << answer.substr(0, 300);
  EXPECT_NE(body.find("\"error\""), std::string::npos) << body;
  const Reply fine =
      api().Send(http::verb::get, "/health/live", {}, {{"X-Filler", std::string(512, 'h')}});
  EXPECT_EQ(fine.status, 200u) << fine.Describe();
}

TEST_F(IntegHttpAbuse, GarbageOnTheSocketIsRefusedOrClosedNeverACrash) {
  std::string random_bytes;
  std::uint32_t x = 2463534242u;  // xorshift32: the same bytes on every run
  for (int i = 0; i < 4000; ++i) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    random_bytes.push_back(static_cast<char>(x & 0xff));
  }
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"binary", Bytes("\x00\x01\x02garbage\r\n\r\n")},
      {"random", random_bytes},
      {"bad version", "GET / HTTP/9.9\r\n\r\n"},
      {"no version", "GET /health/live\r\n\r\n"},
      {"bad header line", "GET /health/live HTTP/1.1\r\nNo colon here\r\n\r\n"},
      {"bad content length", "POST /v1/keys/verify HTTP/1.1\r\nContent-Length: abc\r\n\r\n"},
      {"huge content length",
       "POST /v1/keys/verify HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"},
      {"two content lengths",
       "POST /v1/keys/verify HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"},
      {"bad chunk", "POST /v1/keys/verify HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
      {"space in target", "GET /health live HTTP/1.1\r\n\r\n"},
      {"nul in header", Bytes("GET /health/live HTTP/1.1\r\nX-A: a\0"
                              "b\r\n\r\n")},
  };
  for (const auto& [name, bytes] : cases) {
    const std::string answer = api().Raw(bytes);
    const unsigned status = RawStatus(answer);
    EXPECT_TRUE(answer.empty() || status == 400 || (name == "huge content length" && status == 413))
        << name << ": expected 400 or a close, got: " << answer.substr(0, 300);
    const Reply live = ApiClient(server().port()).Send(http::verb::get, "/health/live");
    ASSERT_EQ(live.status, 200u) << "after " << name << ": " << live.Describe();
  }
}

}  // namespace
}  // namespace keycache::testing
