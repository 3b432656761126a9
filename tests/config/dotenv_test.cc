#include "config/dotenv.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace keycache {
namespace {

EnvMap ParseOk(std::string_view text) {
  auto parsed = ParseDotEnv(text, ".env");
  EXPECT_TRUE(parsed.has_value()) << (parsed ? "" : parsed.error().ToString());
  return parsed ? *parsed : EnvMap{};
}

ConfigError ParseError(std::string_view text) {
  auto parsed = ParseDotEnv(text, "test.env");
  EXPECT_FALSE(parsed.has_value());
  return parsed ? ConfigError{} : parsed.error();
}

TEST(DotEnv, ParsesPlainExportedCommentedAndBlankLines) {
  const EnvMap env = ParseOk(
      "# a comment\n"
      "\n"
      "PORT=3333\n"
      "   \t\n"
      "export HOST=0.0.0.0\n"
      "  # indented comment\n"
      "  SPACED  =  value with spaces  \n"
      "EMPTY=\n");
  EXPECT_EQ(
      env,
      (EnvMap{
          {"PORT", "3333"}, {"HOST", "0.0.0.0"}, {"SPACED", "value with spaces"}, {"EMPTY", ""}}));
}

TEST(DotEnv, UnquotedValuesEndAtACommentAfterABlank) {
  const EnvMap env = ParseOk(
      "A=1 # trailing comment\n"
      "B=color#fff\n"
      "C= # only a comment\n"
      "D=#not-a-comment\n"
      "E=it's fine\n");
  EXPECT_EQ(env.at("A"), "1");
  EXPECT_EQ(env.at("B"), "color#fff");
  EXPECT_EQ(env.at("C"), "");
  EXPECT_EQ(env.at("D"), "#not-a-comment");
  EXPECT_EQ(env.at("E"), "it's fine");
}

TEST(DotEnv, SingleQuotesAreLiteral) {
  const EnvMap env = ParseOk(R"(A='  keep \n # and "this"  ' # comment)");
  EXPECT_EQ(env.at("A"), R"(  keep \n # and "this"  )");
}

TEST(DotEnv, DoubleQuotesUnderstandEscapes) {
  const EnvMap env = ParseOk(R"(A="line1\nline2\ttab \"q\" back\\slash \x" # c)");
  EXPECT_EQ(env.at("A"), "line1\nline2\ttab \"q\" back\\slash \\x");
  EXPECT_EQ(ParseOk("B=\"# not a comment\"").at("B"), "# not a comment");
  EXPECT_EQ(ParseOk("C=\"\"").at("C"), "");
}

TEST(DotEnv, AcceptsCrlfAndNoFinalNewline) {
  const EnvMap env = ParseOk("A=1\r\nB=\"two\"\r\nC=3");
  EXPECT_EQ(env, (EnvMap{{"A", "1"}, {"B", "two"}, {"C", "3"}}));
}

TEST(DotEnv, LaterDuplicateWins) { EXPECT_EQ(ParseOk("A=1\nA=2\n").at("A"), "2"); }

TEST(DotEnv, MalformedLinesAreReportedWithFileAndLineNumber) {
  ConfigError e = ParseError("A=1\n# ok\nthis line has no equals sign\n");
  EXPECT_EQ(e.variable, "test.env");
  EXPECT_EQ(e.message, "line 3: expected KEY=VALUE");

  e = ParseError("1BAD=x\n");
  EXPECT_EQ(e.message.rfind("line 1: invalid variable name", 0), 0u) << e.message;
  e = ParseError("A=1\nBAD-NAME=x\n");
  EXPECT_EQ(e.message.rfind("line 2: invalid variable name", 0), 0u) << e.message;
  e = ParseError("=novalue\n");
  EXPECT_EQ(e.message.rfind("line 1: invalid variable name", 0), 0u) << e.message;

  EXPECT_EQ(ParseError("A=\"open\n").message, "line 1: unterminated double-quoted value");
  EXPECT_EQ(ParseError("\n\nA='open\n").message, "line 3: unterminated single-quoted value");
  EXPECT_EQ(ParseError("A=\"x\" junk\n").message,
            "line 1: unexpected text after the closing quote");
  EXPECT_EQ(ParseError("A='x'junk\n").message, "line 1: unexpected text after the closing quote");
}

TEST(DotEnv, ErrorsNeverQuoteTheLine) {
  const ConfigError e = ParseError("KEYCACHE_PEPPER=\"s3cret-value-that-must-not-leak\n");
  EXPECT_EQ(e.ToString().find("s3cret"), std::string::npos) << e.ToString();
}

class DotEnvFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("dotenv-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(DotEnvFile, ReadsAFile) {
  std::ofstream(dir_ / ".env") << "export PORT=8080\nHOST='::1'\n";
  auto env = ReadDotEnv(dir_ / ".env");
  ASSERT_TRUE(env.has_value()) << env.error().ToString();
  EXPECT_EQ(*env, (EnvMap{{"PORT", "8080"}, {"HOST", "::1"}}));
}

TEST_F(DotEnvFile, ReportsTheFilePathOnErrors) {
  std::ofstream(dir_ / ".env") << "A=1\nbroken\n";
  auto env = ReadDotEnv(dir_ / ".env");
  ASSERT_FALSE(env.has_value());
  EXPECT_EQ(env.error().ToString(), (dir_ / ".env").string() + ": line 2: expected KEY=VALUE");
}

TEST_F(DotEnvFile, MissingFileIsAnError) {
  auto env = ReadDotEnv(dir_ / "nope.env");
  ASSERT_FALSE(env.has_value());
  EXPECT_EQ(env.error().variable, (dir_ / "nope.env").string());
}

TEST(MergeEnvironment, RealEnvironmentWins) {
  const EnvMap dotenv{{"PORT", "1111"}, {"HOST", "0.0.0.0"}};
  char port[] = "PORT=2222";
  char with_equals[] = "DATABASE_URL=postgresql://u@h/db?opt=a=b";
  char empty[] = "EMPTY=";
  char no_equals[] = "JUNK";
  char* environ[] = {port, with_equals, empty, no_equals, nullptr};
  const EnvMap merged = MergeEnvironment(dotenv, environ);
  EXPECT_EQ(merged, (EnvMap{{"PORT", "2222"},
                            {"HOST", "0.0.0.0"},
                            {"DATABASE_URL", "postgresql://u@h/db?opt=a=b"},
                            {"EMPTY", ""}}));
}

TEST(MergeEnvironment, NullEnvironmentLeavesTheDotEnv) {
  const EnvMap dotenv{{"A", "1"}};
  EXPECT_EQ(MergeEnvironment(dotenv, nullptr), dotenv);
}

}  // namespace
}  // namespace keycache
