#include "core/crc32.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace keycache {
namespace {

// Bit-at-a-time reference, independent of the table construction.
std::uint32_t ReferenceCrc32(std::string_view data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : data) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

TEST(Crc32, KnownVectors) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(""), 0u);
  EXPECT_EQ(Crc32("a"), 0xE8B7BE43u);
  EXPECT_EQ(Crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
}

TEST(Crc32, MatchesBitwiseReferenceForEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::string buf(300, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t len = 0; len + offset <= 260; ++len) {
      const std::string_view s(buf.data() + offset, len);
      ASSERT_EQ(Crc32(s), ReferenceCrc32(s)) << "offset " << offset << " len " << len;
    }
  }
}

}  // namespace
}  // namespace keycache
