#include "redis/redis_request.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "redis/resp_parser.h"

namespace keycache {
namespace {

TEST(RedisRequest, EncodesCommandsAsArraysOfBulkStrings) {
  RedisRequest r;
  r.Push({"SET", "key", "value"}).Push({"GET", "key"});
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r.payload(),
            "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
            "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
}

TEST(RedisRequest, BinarySafeAndEmptyArguments) {
  const std::string binary("x\0\r\n$*y", 7);
  const std::vector<std::string_view> args = {"SET", binary, ""};
  RedisRequest r;
  r.Push(std::span<const std::string_view>(args));
  EXPECT_EQ(r.payload(), "*3\r\n$3\r\nSET\r\n$7\r\n" + binary + "\r\n$0\r\n\r\n");
  // The encoding round-trips through a RESP parser: a request is an array of bulk strings.
  RespParser parser;
  parser.Feed(r.payload());
  auto reply = parser.Next();
  ASSERT_TRUE(reply.has_value() && reply->has_value());
  ASSERT_EQ((*reply)->elements.size(), 3u);
  EXPECT_EQ((*reply)->elements[1].str, binary);
  EXPECT_EQ((*reply)->elements[2].str, "");
}

TEST(RedisRequest, CommandWithoutArgumentsIsIgnored) {
  RedisRequest r;
  r.Push({});
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.size(), 0u);
  EXPECT_TRUE(r.payload().empty());
}

TEST(RedisRequest, LongArgumentLength) {
  const std::string big(100000, 'z');
  RedisRequest r;
  r.Push({big});
  EXPECT_EQ(r.payload().substr(0, 12), "*1\r\n$100000\r");
  EXPECT_EQ(r.payload().size(), 4 + 9 + big.size() + 2);
}

}  // namespace
}  // namespace keycache
