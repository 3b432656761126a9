#include "metrics/text_format.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace keycache {
namespace {

std::string Label(std::string_view v) {
  std::string out;
  AppendEscapedLabelValue(out, v);
  return out;
}

std::string Help(std::string_view v) {
  std::string out;
  AppendEscapedHelp(out, v);
  return out;
}

std::string Number(double v) {
  std::string out;
  AppendNumber(out, v);
  return out;
}

TEST(TextFormat, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(Label("plain"), "plain");
  EXPECT_EQ(Label(R"(a\b)"), R"(a\\b)");
  EXPECT_EQ(Label(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(Label("two\nlines"), R"(two\nlines)");
  EXPECT_EQ(Label("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 passes through
}

TEST(TextFormat, HelpEscapesBackslashAndNewlineButNotQuotes) {
  EXPECT_EQ(Help(R"(a "quoted" \ word)"), R"(a "quoted" \\ word)");
  EXPECT_EQ(Help("line\nbreak"), R"(line\nbreak)");
}

TEST(TextFormat, NumbersUseShortestFormAndPrometheusSpecialValues) {
  EXPECT_EQ(Number(0), "0");
  EXPECT_EQ(Number(300), "300");
  EXPECT_EQ(Number(0.001), "0.001");
  EXPECT_EQ(Number(0.0001), "0.0001");
  EXPECT_EQ(Number(0.0005), "0.0005");
  EXPECT_EQ(Number(0.00001), "1e-05");
  EXPECT_EQ(Number(1234567), "1234567");
  EXPECT_EQ(Number(1e20), "1e+20");
  EXPECT_EQ(Number(-2.5), "-2.5");
  EXPECT_EQ(Number(9007199254740992.0), "9007199254740992");
  EXPECT_EQ(Number(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(Number(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(Number(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(TextFormat, MetricNameRules) {
  EXPECT_TRUE(IsValidMetricName("cache_hits_total"));
  EXPECT_TRUE(IsValidMetricName("ns:sub_metric"));
  EXPECT_TRUE(IsValidMetricName("_x"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("9lives"));
  EXPECT_FALSE(IsValidMetricName("has-dash"));
  EXPECT_FALSE(IsValidMetricName("has space"));
}

TEST(TextFormat, LabelNameRules) {
  EXPECT_TRUE(IsValidLabelName("cache_type"));
  EXPECT_TRUE(IsValidLabelName("_x1"));
  EXPECT_FALSE(IsValidLabelName(""));
  EXPECT_FALSE(IsValidLabelName("__reserved"));
  EXPECT_FALSE(IsValidLabelName("1st"));
  EXPECT_FALSE(IsValidLabelName("has:colon"));
}

}  // namespace
}  // namespace keycache
