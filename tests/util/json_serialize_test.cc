#include "util/json_serialize.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <limits>

#include "util/json.h"

namespace keycache {
namespace {

TEST(SerializeJson, WritesRatesAsPlainDecimals) {
  boost::json::object o;
  o["hitRate"] = 0.95;
  o["share"] = 0.05;
  o["one"] = 1.0;
  o["zero"] = 0.0;
  // What Boost.JSON writes itself, and why this function exists.
  EXPECT_EQ(boost::json::serialize(boost::json::value(0.95)), "9.5E-1");
  EXPECT_EQ(SerializeJson(o), R"({"hitRate":0.95,"share":0.05,"one":1.0,"zero":0.0})");
}

TEST(SerializeJson, EveryDoubleReadsBackExactly) {
  for (double d : {2.0 / 3.0, 0.1, 123456.789, 1e-7, 1e300, -0.25, 0.000123}) {
    const std::string text = SerializeJson(boost::json::value(d));
    boost::system::error_code ec;
    const boost::json::value back = ParseJson(text, ec);  // correctly rounded, unlike Boost's
    ASSERT_FALSE(ec) << text;
    EXPECT_EQ(back.as_double(), d) << text;
  }
}

TEST(SerializeJson, LeavesEverythingElseAsBoostWritesIt) {
  const boost::json::value v = boost::json::parse(
      R"({"s":"a\"b\\c\n\u0001","i":-3,"u":18446744073709551615,"b":true,"n":null,)"
      R"("a":[1,"x",{"k":[]}],"o":{}})");
  EXPECT_EQ(SerializeJson(v), boost::json::serialize(v));
}

TEST(SerializeJson, NonFiniteIsNull) {
  EXPECT_EQ(FormatJsonDouble(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(FormatJsonDouble(std::numeric_limits<double>::quiet_NaN()), "null");
}

}  // namespace
}  // namespace keycache
