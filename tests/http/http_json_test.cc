#include "http/http_json.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

namespace keycache {
namespace {

TEST(HttpJsonTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(JsonString("l1\nl2\r\t\b\f"), R"("l1\nl2\r\t\b\f")");
  EXPECT_EQ(JsonString(std::string("nul\0x", 5)), R"("nul\u0000x")");
  EXPECT_EQ(JsonString("\x1f\x7f"), R"("\u001f\u007f")");
  EXPECT_EQ(JsonString(""), "\"\"");
}

TEST(HttpJsonTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(JsonString("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x91"),
            "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x91\"");
  const std::string replacement = "\xEF\xBF\xBD";
  EXPECT_EQ(JsonString("a\xFFz"), "\"a" + replacement + "z\"");
  EXPECT_EQ(JsonString("\xC3"), "\"" + replacement + "\"");                    // truncated
  EXPECT_EQ(JsonString("\xC0\xAF"), "\"" + replacement + replacement + "\"");  // overlong
  EXPECT_EQ(JsonString("\xED\xA0\x80"),
            "\"" + replacement + replacement + replacement + "\"");  // surrogate
}

TEST(HttpJsonTest, EscapedOutputAlwaysParsesBackToValidJson) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string doc = "{\"k\":" + JsonString(all) + "}";
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(doc, ec);
  ASSERT_FALSE(ec) << ec.message();
  std::string_view round_trip = v.at("k").as_string();
  EXPECT_EQ(round_trip.substr(0, 128), std::string_view(all).substr(0, 128));
}

TEST(HttpJsonTest, JsonErrorHasErrorMessageAndContentType) {
  Response res = JsonError(404, "not_found", "no \"such\" key", 11, true);
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(res[boost::beast::http::field::content_type], "application/json");
  EXPECT_EQ(res[boost::beast::http::field::content_length], std::to_string(res.body().size()));
  boost::json::value v = boost::json::parse(res.body());
  EXPECT_EQ(v.at("error").as_string(), "not_found");
  EXPECT_EQ(v.at("message").as_string(), "no \"such\" key");
  EXPECT_TRUE(res.keep_alive());
}

TEST(HttpJsonTest, JsonResponseSetsVersionAndKeepAlive) {
  Response res = JsonResponse(201, R"({"id":"k1"})", 10, false);
  EXPECT_EQ(res.result_int(), 201u);
  EXPECT_EQ(res.version(), 10u);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(res.body(), R"({"id":"k1"})");
}

}  // namespace
}  // namespace keycache
