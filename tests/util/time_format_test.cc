#include "util/time_format.h"

#include <gtest/gtest.h>

#include <ctime>
#include <random>
#include <string>

namespace keycache {
namespace {

constexpr TimeMs kMaxSupported = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z

// Independent oracle for the formatter (glibc's gmtime_r; UTC, no locale involved).
std::string GmtimeFormat(TimeMs t) {
  const std::time_t secs = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(t % 1000));
  return buf;
}

TEST(FormatRfc3339, KnownValues) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(1'700'000'000'000), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(FormatRfc3339(1'795'644'850'123), "2026-11-25T22:14:10.123Z");
  EXPECT_EQ(FormatRfc3339(951'782'400'000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(kMaxSupported), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_FALSE(FormatRfc3339(kNever).empty());  // far future: still a well-defined string
}

TEST(FormatRfc3339, MatchesGmtimeOnRandomInstants) {
  std::mt19937_64 rng(3339);
  std::uniform_int_distribution<TimeMs> dist(0, kMaxSupported);
  for (int i = 0; i < 20'000; ++i) {
    const TimeMs t = dist(rng);
    ASSERT_EQ(FormatRfc3339(t), GmtimeFormat(t)) << t;
  }
}

TEST(ParseRfc3339, RoundTripsFormattedValues) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<TimeMs> dist(0, kMaxSupported);
  for (TimeMs t : {TimeMs{0}, TimeMs{1}, TimeMs{999}, kMaxSupported}) {
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(t)), t);
  }
  for (int i = 0; i < 20'000; ++i) {
    const TimeMs t = dist(rng);
    ASSERT_EQ(ParseRfc3339(FormatRfc3339(t)), t) << FormatRfc3339(t);
  }
}

TEST(ParseRfc3339, FractionsOfAnyLengthAreTruncatedToMilliseconds) {
  const TimeMs base = 1'795'644'850'000;  // 2026-11-25T22:14:10Z
  EXPECT_EQ(ParseRfc3339("2026-11-25T22:14:10Z"), base);
  EXPECT_EQ(ParseRfc3339("2026-11-25T22:14:10.1Z"), base + 100);
  EXPECT_EQ(ParseRfc3339("2026-11-25T22:14:10.12Z"), base + 120);
  EXPECT_EQ(ParseRfc3339("2026-11-25T22:14:10.123Z"), base + 123);
  EXPECT_EQ(ParseRfc3339("2026-11-25T22:14:10.1239Z"), base + 123);
  EXPECT_EQ(ParseRfc3339("2026-11-25T22:14:10.999999999999999999999Z"), base + 999);
  EXPECT_EQ(ParseRfc3339("2026-11-25T22:14:10.000Z"), base);
}

TEST(ParseRfc3339, OffsetsAndLowerCase) {
  const TimeMs base = 1'795'644'850'000;
  EXPECT_EQ(ParseRfc3339("2026-11-25t22:14:10z"), base);
  EXPECT_EQ(ParseRfc3339("2026-11-25T22:14:10+00:00"), base);
  EXPECT_EQ(ParseRfc3339("2026-11-25T22:14:10-00:00"), base);
  EXPECT_EQ(ParseRfc3339("2026-11-25T23:14:10+01:00"), base);
  EXPECT_EQ(ParseRfc3339("2026-11-25T16:44:10.5-05:30"), base + 500);
  EXPECT_EQ(ParseRfc3339("2026-11-26T12:14:10+14:00"), base);
  EXPECT_EQ(ParseRfc3339("2026-11-25T00:00:00+23:59"), ParseRfc3339("2026-11-24T00:01:00Z"));
}

TEST(ParseRfc3339, CalendarRules) {
  EXPECT_TRUE(ParseRfc3339("2024-02-29T00:00:00Z"));
  EXPECT_TRUE(ParseRfc3339("2000-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2100-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2024-02-30T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2024-04-31T00:00:00Z"));
  EXPECT_TRUE(ParseRfc3339("2024-12-31T23:59:59Z"));
  EXPECT_TRUE(ParseRfc3339("1970-01-01T00:00:00Z"));
  EXPECT_TRUE(ParseRfc3339("9999-12-31T23:59:59.999Z"));
}

TEST(ParseRfc3339, RejectsMalformedAndOutOfRangeText) {
  for (std::string_view s : {
           "",
           "garbage",
           "2026-11-25",
           "2026-11-25T22:14:10",   // no zone
           "2026-11-25T22:14Z",     // no seconds
           "2026-11-25 22:14:10Z",  // space separator
           "2026-11-25X22:14:10Z",
           "2026/11/25T22:14:10Z",
           " 2026-11-25T22:14:10Z",
           "2026-11-25T22:14:10Z ",
           "2026-11-25T22:14:10ZZ",
           "2026-11-25T22:14:10.Z",  // dot without digits
           "2026-11-25T22:14:10.12a3Z",
           "2026-11-25T22:14:10,123Z",
           "+2026-11-25T22:14:10Z",
           "26-11-25T22:14:10Z",
           "02026-11-25T22:14:10Z",
           "2026-1-25T22:14:10Z",
           "2026-11-5T22:14:10Z",
           "2026-11-25T2:14:10Z",
           "2026-11-25T22:14:1Z",
           "2026-+1-25T22:14:10Z",
           "2026-00-25T22:14:10Z",
           "2026-13-25T22:14:10Z",
           "2026-11-00T22:14:10Z",
           "2026-11-32T22:14:10Z",
           "2026-11-25T24:00:00Z",
           "2026-11-25T22:60:10Z",
           "2026-11-25T22:14:60Z",  // leap seconds are not representable
           "2026-11-25T22:14:10+24:00",
           "2026-11-25T22:14:10+01:60",
           "2026-11-25T22:14:10+0100",
           "2026-11-25T22:14:10+01",
           "2026-11-25T22:14:10+01:",
           "2026-11-25T22:14:10+01:0",
           "2026-11-25T22:14:10+01:000",
           "2026-11-25T22:14:10 +01:00",
           "1969-12-31T23:59:59Z",
           "0000-01-01T00:00:00Z",
           "10000-01-01T00:00:00Z",
           "1970-01-01T00:30:00+01:00",  // before the epoch once the offset is applied
       }) {
    EXPECT_EQ(ParseRfc3339(s), std::nullopt) << '"' << s << '"';
  }
  EXPECT_EQ(ParseRfc3339(std::string_view("2026-11-25T22:14:10Z\0", 21)), std::nullopt);
}

}  // namespace
}  // namespace keycache
