// ParseJson reads JSON like boost::json::parse, except that it rounds decimals correctly.
#include "util/json.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstring>
#include <random>
#include <string>
#include <string_view>

namespace keycache {
namespace {

double Nearest(std::string_view text) {
  double d = 0;
  std::from_chars(text.data(), text.data() + text.size(), d);
  return d;
}

TEST(ParseJson, ReadsDecimalsAsTheNearestDouble) {
  // boost::json 1.81 reads the first two one unit in the last place low.
  for (std::string_view text : {"2.1844674407370954", "2.1844674407370954E0", "0.1", "-1.5e-7",
                                "1.7976931348623157e308", "5e-324", "123456.789E+3"}) {
    boost::system::error_code ec;
    const boost::json::value v = ParseJson(text, ec);
    ASSERT_FALSE(ec) << text;
    ASSERT_TRUE(v.is_double()) << text;
    EXPECT_EQ(v.as_double(), Nearest(text)) << text;
  }
}

TEST(ParseJson, ReadsEveryWrittenDoubleBackAsItself) {
  std::mt19937_64 random(7);
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t bits = random();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) continue;
    const std::string text = boost::json::serialize(boost::json::value(d));
    boost::system::error_code ec;
    const boost::json::value back = ParseJson(text, ec);
    ASSERT_FALSE(ec) << text;
    ASSERT_EQ(back.as_double(), d) << text;
  }
}

TEST(ParseJson, AgreesWithBoostOnEverythingElse) {
  for (std::string_view text :
       {R"({"a":[1,-2,18446744073709551615,true,null,"x\u00e9"],"b":{},"c":-0.0})", "[]", R"("s")",
        "1e400", "-1e-400", "  7 ", "", "{", "[1,]", "1 2", R"({"a":1}x)", "nul"}) {
    boost::system::error_code ours_ec, boost_ec;
    const boost::json::value ours = ParseJson(text, ours_ec);
    const boost::json::value theirs = boost::json::parse(text, boost_ec);
    EXPECT_EQ(ours_ec, boost_ec) << text;
    EXPECT_EQ(ours, theirs) << text;
  }
}

}  // namespace
}  // namespace keycache
