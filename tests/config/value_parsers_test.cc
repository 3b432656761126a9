#include "config/value_parsers.h"

#include <gtest/gtest.h>

namespace keycache {
namespace {

TEST(ParseBool, AcceptsTheEightSpellingsInAnyCase) {
  for (const char* t : {"true", "TRUE", "1", "yes", "Yes", "on", "ON"}) {
    EXPECT_EQ(ParseBool(t), std::optional<bool>(true)) << t;
  }
  for (const char* f : {"false", "False", "0", "no", "NO", "off", "Off"}) {
    EXPECT_EQ(ParseBool(f), std::optional<bool>(false)) << f;
  }
  for (const char* bad : {"", "2", "y", "n", "enabled", " true", "true "}) {
    EXPECT_EQ(ParseBool(bad), std::nullopt) << bad;
  }
}

TEST(ParseInt, IsStrict) {
  EXPECT_EQ(ParseInt("0"), 0);
  EXPECT_EQ(ParseInt("3333"), 3333);
  EXPECT_EQ(ParseInt("-5"), -5);
  EXPECT_EQ(ParseInt("9223372036854775807"), INT64_MAX);
  for (const char* bad : {"", "abc", "12abc", "1.5", "+1", " 1", "1 ", "0x10", "-",
                          "9223372036854775808", "99999999999999999999"}) {
    EXPECT_EQ(ParseInt(bad), std::nullopt) << bad;
  }
}

TEST(ParseDurationMs, AcceptsUnitsAndBareSeconds) {
  EXPECT_EQ(ParseDurationMs("250ms"), 250);
  EXPECT_EQ(ParseDurationMs("30s"), 30'000);
  EXPECT_EQ(ParseDurationMs("5m"), 300'000);
  EXPECT_EQ(ParseDurationMs("1h"), 3'600'000);
  EXPECT_EQ(ParseDurationMs("30"), 30'000);
  EXPECT_EQ(ParseDurationMs("0"), 0);
  EXPECT_EQ(ParseDurationMs("10S"), 10'000);
  EXPECT_EQ(ParseDurationMs("100MS"), 100);
  for (const char* bad : {"", "s", "-1s", "1.5s", "1d", "5 m", "10sec", "1h30m", "ms",
                          "99999999999999999h", "18446744073709551616"}) {
    EXPECT_EQ(ParseDurationMs(bad), std::nullopt) << bad;
  }
}

TEST(ParseSizeBytes, AcceptsBytesAndBinaryUnitsInAnyCase) {
  EXPECT_EQ(ParseSizeBytes("100"), 100u);
  EXPECT_EQ(ParseSizeBytes("100b"), 100u);
  EXPECT_EQ(ParseSizeBytes("64kb"), 64u << 10);
  EXPECT_EQ(ParseSizeBytes("64K"), 64u << 10);
  EXPECT_EQ(ParseSizeBytes("64KiB"), 64u << 10);
  EXPECT_EQ(ParseSizeBytes("512mb"), 512u << 20);
  EXPECT_EQ(ParseSizeBytes("512M"), 512u << 20);
  EXPECT_EQ(ParseSizeBytes("512mib"), 512u << 20);
  EXPECT_EQ(ParseSizeBytes("2GB"), std::uint64_t{2} << 30);
  EXPECT_EQ(ParseSizeBytes("2g"), std::uint64_t{2} << 30);
  EXPECT_EQ(ParseSizeBytes("2GiB"), std::uint64_t{2} << 30);
  for (const char* bad :
       {"", "mb", "-1", "1.5gb", "10 mb", "10tb", "10mbs", "10bb", "17179869184gb"}) {
    EXPECT_EQ(ParseSizeBytes(bad), std::nullopt) << bad;
  }
}

TEST(FormatForMessages, PicksTheLargestExactUnit) {
  EXPECT_EQ(FormatDurationMs(0), "0s");
  EXPECT_EQ(FormatDurationMs(10), "10ms");
  EXPECT_EQ(FormatDurationMs(1500), "1500ms");
  EXPECT_EQ(FormatDurationMs(30'000), "30s");
  EXPECT_EQ(FormatDurationMs(600'000), "10m");
  EXPECT_EQ(FormatDurationMs(3'600'000), "1h");
  EXPECT_EQ(FormatSizeBytes(100), "100b");
  EXPECT_EQ(FormatSizeBytes(1024), "1kb");
  EXPECT_EQ(FormatSizeBytes(64u << 20), "64mb");
  EXPECT_EQ(FormatSizeBytes(std::uint64_t{1} << 30), "1gb");
}

}  // namespace
}  // namespace keycache
