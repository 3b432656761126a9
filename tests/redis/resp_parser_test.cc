#include "redis/resp_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keycache {
namespace {

using Type = RedisReply::Type;

// Feeds `wire` one byte at a time and collects every reply.
std::vector<RedisReply> ParseBytewise(std::string_view wire) {
  RespParser parser;
  std::vector<RedisReply> out;
  for (char c : wire) {
    parser.Feed(std::string_view(&c, 1));
    for (;;) {
      auto next = parser.Next();
      EXPECT_TRUE(next.has_value());
      if (!next || !*next) break;
      out.push_back(std::move(**next));
    }
  }
  return out;
}

TEST(RespParser, EveryReplyTypeByteByByte) {
  const std::string wire =
      "+OK\r\n-ERR boom\r\n:-42\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n";
  const auto replies = ParseBytewise(wire);
  ASSERT_EQ(replies.size(), 8u);
  EXPECT_EQ(replies[0], RedisReply::Status("OK"));
  EXPECT_TRUE(replies[0].is_ok());
  EXPECT_EQ(replies[1], RedisReply::Error("ERR boom"));
  EXPECT_TRUE(replies[1].is_error());
  EXPECT_EQ(replies[2], RedisReply::Integer(-42));
  EXPECT_EQ(replies[3], RedisReply::String("hello"));
  EXPECT_EQ(replies[4], RedisReply::String(""));
  EXPECT_TRUE(replies[4].is_string());
  EXPECT_TRUE(replies[5].is_nil());  // nil bulk
  EXPECT_TRUE(replies[6].is_nil());  // nil array
  EXPECT_EQ(replies[7].type, Type::kArray);
  EXPECT_TRUE(replies[7].elements.empty());
}

TEST(RespParser, NestedArrays) {
  const std::string wire = "*3\r\n:1\r\n*2\r\n$1\r\na\r\n*1\r\n$-1\r\n+x\r\n";
  const auto replies = ParseBytewise(wire);
  ASSERT_EQ(replies.size(), 1u);
  const RedisReply expected = RedisReply::Array(
      {RedisReply::Integer(1),
       RedisReply::Array({RedisReply::String("a"), RedisReply::Array({RedisReply::Nil()})}),
       RedisReply::Status("x")});
  EXPECT_EQ(replies[0], expected);
}

TEST(RespParser, BinarySafeBulkString) {
  const std::string payload("a\0b\r\nc", 6);
  const std::string wire = "$6\r\n" + payload + "\r\n";
  const auto replies = ParseBytewise(wire);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].str, payload);
}

TEST(RespParser, ManyRepliesInOneChunk) {
  RespParser parser;
  std::string wire;
  for (int i = 0; i < 1000; ++i) wire += ":" + std::to_string(i) + "\r\n";
  parser.Feed(wire);
  for (int i = 0; i < 1000; ++i) {
    auto next = parser.Next();
    ASSERT_TRUE(next.has_value());
    ASSERT_TRUE(next->has_value());
    EXPECT_EQ((*next)->integer, i);
  }
  auto end = parser.Next();
  ASSERT_TRUE(end.has_value());
  EXPECT_FALSE(end->has_value());
}

TEST(RespParser, IncompleteReplyNeedsMoreBytes) {
  RespParser parser;
  parser.Feed("$10\r\nhello");
  auto next = parser.Next();
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->has_value());
  parser.Feed("world\r\n");
  next = parser.Next();
  ASSERT_TRUE(next.has_value() && next->has_value());
  EXPECT_EQ((*next)->str, "helloworld");
}

TEST(RespParser, ProtocolErrorIsStickyAndReported) {
  RespParser parser;
  parser.Feed("?what\r\n");
  auto next = parser.Next();
  ASSERT_FALSE(next.has_value());
  EXPECT_EQ(next.error(), make_error_code(Errc::kBadInput));
  EXPECT_FALSE(parser.error().empty());
  parser.Feed("+OK\r\n");
  EXPECT_FALSE(parser.Next().has_value());
}

TEST(RespParser, ProtocolErrorInsideAnArrayFreesThePartialReply) {
  RespParser parser;
  parser.Feed("*3\r\n$3\r\nabc\r\n:1\r\n!bad\r\n");
  EXPECT_FALSE(parser.Next().has_value());
}

}  // namespace
}  // namespace keycache
