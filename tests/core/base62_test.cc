#include "core/base62.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/key_id.h"

namespace keycache {
namespace {

constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();

TEST(Base62, DigitValueMatchesAlphabetForEveryByte) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const std::size_t pos = base62::kAlphabet.find(c);
    const int expected = pos == std::string_view::npos ? -1 : static_cast<int>(pos);
    EXPECT_EQ(base62::DigitValue(c), expected) << "byte " << b;
  }
}

TEST(Base62, AppendFixedPadsWithZeroDigitsAndAppends) {
  std::string s = "x";
  base62::AppendFixed(s, 0, 11);
  EXPECT_EQ(s, "x00000000000");
  s.clear();
  base62::AppendFixed(s, 61, 2);
  EXPECT_EQ(s, "0z");
  s.clear();
  base62::AppendFixed(s, 62, 2);
  EXPECT_EQ(s, "10");
  s.clear();
  base62::AppendFixed(s, 0, 0);
  EXPECT_EQ(s, "");
}

TEST(Base62, MaxUint64RoundTripsAndOneMoreOverflows) {
  std::string s;
  base62::AppendFixed(s, kMax64, 11);
  EXPECT_EQ(s, "LygHa16AHYF");
  EXPECT_EQ(base62::DecodeFixed(s), kMax64);
  EXPECT_EQ(base62::DecodeFixed("LygHa16AHYG"), std::nullopt);  // 2^64
  EXPECT_EQ(base62::DecodeFixed("LygHa16AHZ0"), std::nullopt);
  EXPECT_EQ(base62::DecodeFixed("zzzzzzzzzzz"), std::nullopt);
  EXPECT_EQ(base62::DecodeFixed("000000000000LygHa16AHYF"), kMax64);  // leading zeros are fine
  EXPECT_EQ(base62::DecodeFixed("1000000000000"), std::nullopt);      // 62^12 > 2^64
}

TEST(Base62, DecodeRejectsNonAlphabetCharacters) {
  EXPECT_EQ(base62::DecodeFixed("00000-00000"), std::nullopt);
  EXPECT_EQ(base62::DecodeFixed("_"), std::nullopt);
  EXPECT_EQ(base62::DecodeFixed(std::string_view("a\0b", 3)), std::nullopt);
  EXPECT_EQ(base62::DecodeFixed("\xc3\xa9"), std::nullopt);
  EXPECT_EQ(base62::DecodeFixed(""), 0u);
  EXPECT_EQ(base62::DecodeFixed("0"), 0u);
  EXPECT_EQ(base62::DecodeFixed("z"), 61u);
  EXPECT_EQ(base62::DecodeFixed("10"), 62u);
}

TEST(Base62, RandomValuesRoundTrip) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 10'000; ++i) {
    const std::uint64_t v = rng() >> (i % 64);
    std::string s;
    base62::AppendFixed(s, v, 11);
    ASSERT_EQ(s.size(), 11u);
    ASSERT_EQ(base62::DecodeFixed(s), v) << s;
  }
}

// DecodeFixed splits up to 20 digits into two unchecked halves: against a digit-by-digit
// 128-bit reference, at every width, with random digits, all 'z', and a bad digit anywhere.
TEST(Base62, DecodeAgreesWithADigitByDigitReferenceAtEveryWidth) {
  std::mt19937_64 rng(62);
  auto reference = [](std::string_view text) -> std::optional<std::uint64_t> {
    unsigned __int128 v = 0;
    for (char c : text) {
      const int d = base62::DigitValue(c);
      if (d < 0) return std::nullopt;
      v = v * 62 + static_cast<unsigned __int128>(d);
      if (v > std::numeric_limits<std::uint64_t>::max()) return std::nullopt;
    }
    return static_cast<std::uint64_t>(v);
  };
  for (std::size_t width = 0; width <= 24; ++width) {
    std::vector<std::string> cases{std::string(width, 'z'), std::string(width, '0')};
    for (int i = 0; i < 300; ++i) {
      std::string t;
      for (std::size_t k = 0; k < width; ++k) t.push_back(base62::kAlphabet[rng() % 62]);
      cases.push_back(t);
      if (width > 0) {
        t[rng() % width] = "-_ \xff"[rng() % 4];
        cases.push_back(t);
      }
    }
    for (const std::string& t : cases) {
      EXPECT_EQ(base62::DecodeFixed(t), reference(t)) << "'" << t << "'";
    }
  }
}

TEST(KeyId, RoundTripsEdgeValues) {
  for (KeyId id : {KeyId{0}, KeyId{1}, KeyId{61}, KeyId{62}, kMax64 - 1, kMax64}) {
    const std::string s = KeyIdToString(id);
    EXPECT_EQ(s.size(), kKeyIdChars);
    EXPECT_EQ(ParseKeyId(s), id) << s;
  }
  EXPECT_EQ(KeyIdToString(0), "00000000000");
  EXPECT_EQ(KeyIdToString(kMax64), "LygHa16AHYF");
}

TEST(KeyId, ParseRejectsWrongLengthBadCharsAndOverflow) {
  EXPECT_EQ(ParseKeyId(""), std::nullopt);
  EXPECT_EQ(ParseKeyId("0000000000"), std::nullopt);    // 10
  EXPECT_EQ(ParseKeyId("000000000000"), std::nullopt);  // 12
  EXPECT_EQ(ParseKeyId("0000000000!"), std::nullopt);
  EXPECT_EQ(ParseKeyId("LygHa16AHYG"), std::nullopt);  // 2^64
  EXPECT_EQ(ParseKeyId("zzzzzzzzzzz"), std::nullopt);
}

}  // namespace
}  // namespace keycache
