// What RespParser allocates must follow the bytes it received, never a count the peer claims.
// This file replaces the global operator new/delete of its test binary so that, while a test
// holds an AllocationLimit, a request above the limit throws std::bad_alloc instead of reaching
// the allocator (the header below would otherwise ask for ~144 GB). The limit is the only
// mutable global, and it is test instrumentation.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>

#include "redis/resp_parser.h"

namespace {

std::atomic<std::size_t> g_limit{SIZE_MAX};

class AllocationLimit {
 public:
  explicit AllocationLimit(std::size_t bytes) { g_limit.store(bytes); }
  ~AllocationLimit() { g_limit.store(SIZE_MAX); }
};

}  // namespace

void* operator new(std::size_t n) {
  if (n > g_limit.load(std::memory_order_relaxed)) throw std::bad_alloc();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace keycache {
namespace {

// Found by tests/fuzz/resp_parser: the 13 bytes below made the parser reserve 2e9 elements.
TEST(RespParserMemory, AHugeArrayHeaderReservesNothingLikeItsCount) {
  RespParser parser;
  const AllocationLimit limit(1 << 20);
  parser.Feed("*2000000000\r\n:1\r\n*3\r\n:2\r\n");
  auto next = parser.Next();
  ASSERT_TRUE(next) << parser.error();
  EXPECT_FALSE(*next);  // incomplete: 1,999,999,999 elements still owed
}

TEST(RespParserMemory, ElementsStillArriveInOrderAfterTheReserve) {
  // More elements than the reserve, one nested array among them.
  const int n = 3000;
  std::string wire = "*" + std::to_string(n) + "\r\n";
  for (int i = 0; i < n; ++i)
    wire += i == 1500 ? "*2\r\n:7\r\n$1\r\nx\r\n" : ":" + std::to_string(i) + "\r\n";
  RespParser parser;
  parser.Feed(wire);
  auto next = parser.Next();
  ASSERT_TRUE(next && *next);
  const RedisReply& reply = **next;
  ASSERT_EQ(reply.elements.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(reply.elements[0], RedisReply::Integer(0));
  EXPECT_EQ(reply.elements[1500],
            RedisReply::Array({RedisReply::Integer(7), RedisReply::String("x")}));
  EXPECT_EQ(reply.elements[n - 1], RedisReply::Integer(n - 1));
}

TEST(RespParserMemory, ACountBeyondTheRangeOfIntIsAProtocolError) {
  RespParser parser;
  const AllocationLimit limit(1 << 20);
  parser.Feed("*4294967295\r\n:1\r\n");
  EXPECT_FALSE(parser.Next());
  EXPECT_FALSE(parser.Next());  // sticky
}

}  // namespace
}  // namespace keycache
