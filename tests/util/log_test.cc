#include "util/log.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "util/time_format.h"

namespace keycache {
namespace {

TEST(ParseLogLevel, AcceptsNamesCaseInsensitively) {
  EXPECT_EQ(ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("TRACE"), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(ParseLogLevel("Info"), LogLevel::kInfo);
  EXPECT_EQ(ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("WARNING"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(ParseLogLevel("off"), LogLevel::kOff);
  EXPECT_EQ(ParseLogLevel("none"), LogLevel::kOff);
}

TEST(ParseLogLevel, RejectsAnythingElse) {
  for (std::string_view s : {"", "verbose", "info ", " info", "err", "2", "fatal"}) {
    EXPECT_EQ(ParseLogLevel(s), std::nullopt) << '"' << s << '"';
  }
}

TEST(LogLevelName, RoundTripsThroughParse) {
  for (LogLevel l :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError, LogLevel::kOff}) {
    EXPECT_EQ(ParseLogLevel(LogLevelName(l)), l);
  }
}

std::string ReadAll(std::FILE* f) {
  std::rewind(f);
  std::string out;
  char buf[512];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  return out;
}

TEST(Logger, WritesOneLinePerEventAboveTheMinimumLevel) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    Logger log(LogLevel::kInfo, f);
    EXPECT_FALSE(log.Enabled(LogLevel::kDebug));
    EXPECT_TRUE(log.Enabled(LogLevel::kWarn));
    log.Debug("hidden");
    log.Warn("key.rejected", {{"reason", "bad checksum"}, {"n", "3"}, {"empty", ""}});
  }
  const std::string text = ReadAll(f);
  std::fclose(f);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.find("hidden"), std::string::npos);
  EXPECT_EQ(text.back(), '\n');
  const std::size_t space = text.find(' ');
  ASSERT_NE(space, std::string::npos);
  EXPECT_TRUE(ParseRfc3339(text.substr(0, space))) << text;
  EXPECT_EQ(text.substr(space + 1), "WARN key.rejected reason=\"bad checksum\" n=3 empty=\"\"\n");
}

}  // namespace
}  // namespace keycache
