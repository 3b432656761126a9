#include "core/api_key.h"

#include <gtest/gtest.h>

#include <array>
#include <limits>
#include <optional>
#include <string>
#include <unordered_set>

#include "core/base62.h"
#include "core/crc32.h"

namespace keycache {
namespace {

constexpr std::string_view kPrefix = "kc";
constexpr KeyId kMaxId = std::numeric_limits<KeyId>::max();

// Builds "<prefix>_<id_text><secret>" and appends a correct checksum, so that a test can put a
// defect in one field while every other check passes.
std::string WithChecksum(std::string_view prefix, std::string_view id_text,
                         std::string_view secret) {
  std::string s(prefix);
  s.push_back('_');
  s.append(id_text);
  s.append(secret);
  base62::AppendFixed(s, Crc32(s), kChecksumChars);
  return s;
}

const std::string kSecret(kSecretChars, 'a');

const KeyHasher& Hasher() {
  static const KeyHasher hasher("the server's pepper, at least 32 bytes long");
  return hasher;
}

// ParseKey's id, or nullopt on any error (optional compares and prints cleanly in gtest).
std::optional<KeyId> ParsedId(std::string_view prefix, std::string_view key) {
  auto r = ParseKey(prefix, key);
  if (!r) return std::nullopt;
  return *r;
}

bool IsBadInput(const Result<KeyId>& r) { return !r && r.error() == Errc::kBadInput; }

TEST(ApiKey, GeneratedKeyHasTheDocumentedLayoutAndParses) {
  auto g = GenerateKey(kPrefix, Hasher());
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g->format, KeyFormat::kTagged);
  const std::string& key = g->key;
  ASSERT_EQ(key.size(), kPrefix.size() + 1 + 58);
  EXPECT_EQ(key.substr(0, 4), "kc_2");
  EXPECT_EQ(key.substr(4, kKeyIdChars), KeyIdToString(g->id));
  for (char c : key.substr(3)) EXPECT_GE(base62::DigitValue(c), 0) << key;
  // The stored hash covers everything before the tag; the tag is its first 47 bits.
  const std::string hashed = key.substr(0, 4 + kKeyIdChars + kSecretChars);
  EXPECT_EQ(g->hash, Hasher().Hash(hashed));
  EXPECT_EQ(base62::DecodeFixed(key.substr(hashed.size(), kTagChars)), KeyTag(g->hash));
  EXPECT_LT(KeyTag(g->hash), 1ull << 47);
  // The checksum is CRC32 over everything before it, as 6 base62 digits.
  const std::string body = key.substr(0, key.size() - kChecksumChars);
  EXPECT_EQ(base62::DecodeFixed(key.substr(key.size() - kChecksumChars)), Crc32(body));

  auto parsed = ParseKeyParts(kPrefix, key);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->id, g->id);
  EXPECT_EQ(parsed->format, KeyFormat::kTagged);
  EXPECT_EQ(parsed->hashed, hashed);
  EXPECT_TRUE(TagMatches(*parsed, Hasher().Hash(parsed->hashed)));
  EXPECT_NE(g->id, 0u);
}

TEST(ApiKey, OnlyThePepperMintsAMatchingTag) {
  const KeyHasher attacker("somebody else's pepper, also 32 bytes+");
  int matched = 0;
  for (int i = 0; i < 1000; ++i) {
    auto forged = GenerateKey(kPrefix, attacker);
    ASSERT_TRUE(forged);
    auto parsed = ParseKeyParts(kPrefix, forged->key);
    ASSERT_TRUE(parsed) << "a forged key is well-formed: the checksum is public";
    EXPECT_TRUE(TagMatches(*parsed, attacker.Hash(parsed->hashed)));
    matched += TagMatches(*parsed, Hasher().Hash(parsed->hashed)) ? 1 : 0;
  }
  EXPECT_EQ(matched, 0) << "a 47-bit tag matched by chance";
}

TEST(ApiKey, LegacyKeysKeepTheirLayoutAndParse) {
  auto g = GenerateLegacyKeyWithId(kPrefix, 1234567, Hasher());
  ASSERT_TRUE(g);
  EXPECT_EQ(g->format, KeyFormat::kLegacy);
  ASSERT_EQ(g->key.size(), kPrefix.size() + 1 + 49);
  EXPECT_EQ(g->key.substr(3, kKeyIdChars), KeyIdToString(1234567));
  EXPECT_EQ(g->hash, Hasher().Hash(g->key)) << "a legacy key's stored hash covers all of it";
  auto parsed = ParseKeyParts(kPrefix, g->key);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->format, KeyFormat::kLegacy);
  EXPECT_EQ(parsed->id, KeyId{1234567});
  EXPECT_EQ(parsed->hashed, g->key);
  EXPECT_TRUE(TagMatches(*parsed, KeyHash{})) << "legacy keys carry no tag to check";
}

TEST(ApiKey, TaggedKeysNeedTheVersionDigitAndATagBelow2To47) {
  auto g = GenerateKeyWithId(kPrefix, 5, Hasher());
  ASSERT_TRUE(g);
  auto rechecksummed = [](std::string key) {
    key.resize(key.size() - kChecksumChars);
    base62::AppendFixed(key, Crc32(key), kChecksumChars);
    return key;
  };
  std::string version = g->key;
  version[3] = '3';
  EXPECT_TRUE(IsBadInput(ParseKey(kPrefix, rechecksummed(version))));
  std::string big_tag = g->key;
  const std::size_t tag_at = big_tag.size() - kChecksumChars - kTagChars;
  big_tag.replace(tag_at, kTagChars, "zzzzzzzz");
  EXPECT_TRUE(IsBadInput(ParseKey(kPrefix, rechecksummed(big_tag))));
  std::string top_tag = g->key.substr(0, tag_at);
  base62::AppendFixed(top_tag, (1ull << 47) - 1, kTagChars);
  top_tag += std::string(kChecksumChars, '0');
  EXPECT_TRUE(ParseKey(kPrefix, rechecksummed(top_tag)));
}

TEST(ApiKey, GenerateWithIdKeepsTheIdIncludingEdgeValues) {
  for (KeyId id : {KeyId{0}, KeyId{1}, KeyId{123456789}, kMaxId}) {
    auto g = GenerateKeyWithId("live", id, Hasher());
    ASSERT_TRUE(g);
    EXPECT_EQ(g->id, id);
    EXPECT_EQ(g->key.substr(6, kKeyIdChars), KeyIdToString(id));
    EXPECT_EQ(ParsedId("live", g->key), id);
  }
}

TEST(ApiKey, GenerateRejectsInvalidPrefixes) {
  for (std::string_view p : {"", "KC", "k_c", "a-b", "abcdefghijklmnopq", "k c"}) {
    auto g = GenerateKey(p, Hasher());
    ASSERT_FALSE(g) << p;
    EXPECT_EQ(g.error(), Errc::kBadInput);
    EXPECT_FALSE(GenerateKeyWithId(p, 5, Hasher()));
  }
}

TEST(ApiKey, PrefixValidation) {
  EXPECT_TRUE(IsValidKeyPrefix("a"));
  EXPECT_TRUE(IsValidKeyPrefix("kc"));
  EXPECT_TRUE(IsValidKeyPrefix("0123456789abcdef"));  // 16
  EXPECT_FALSE(IsValidKeyPrefix(""));
  EXPECT_FALSE(IsValidKeyPrefix("0123456789abcdefg"));  // 17
  EXPECT_FALSE(IsValidKeyPrefix("Kc"));
  EXPECT_FALSE(IsValidKeyPrefix("k_"));
  EXPECT_FALSE(IsValidKeyPrefix("k-c"));
  EXPECT_FALSE(IsValidKeyPrefix("k.c"));
  EXPECT_FALSE(IsValidKeyPrefix(std::string_view("k\0", 2)));
}

TEST(ApiKey, TenThousandGeneratedKeysAreDistinctAndAllParse) {
  std::unordered_set<std::string> keys;
  std::unordered_set<KeyId> ids;
  for (int i = 0; i < 10'000; ++i) {
    auto g = GenerateKey(kPrefix, Hasher());
    ASSERT_TRUE(g);
    ASSERT_EQ(ParsedId(kPrefix, g->key), g->id);
    keys.insert(g->key);
    ids.insert(g->id);
  }
  EXPECT_EQ(keys.size(), 10'000u);
  EXPECT_EQ(ids.size(), 10'000u);
}

TEST(ApiKey, SecretCharactersAreUniform) {
  // 320,000 secret characters: each of the 62 digits is expected ~5,161 times (sd ~71). Modulo
  // bias (256 % 62 = 8) would give the first 8 digits 25% more; the bound is 10% (~7 sd).
  constexpr int kKeys = 10'000;
  std::array<int, 62> counts{};
  for (int i = 0; i < kKeys; ++i) {
    auto g = GenerateKeyWithId(kPrefix, 1, Hasher());
    ASSERT_TRUE(g);
    for (char c : std::string_view(g->key).substr(4 + kKeyIdChars, kSecretChars)) {
      ++counts[static_cast<std::size_t>(base62::DigitValue(c))];
    }
  }
  const double expected = kKeys * static_cast<double>(kSecretChars) / 62;
  for (std::size_t d = 0; d < counts.size(); ++d) {
    EXPECT_NEAR(counts[d], expected, expected * 0.10) << "digit " << base62::kAlphabet[d];
  }
}

TEST(ApiKey, ParseRejectsWrongPrefix) {
  auto g = GenerateKeyWithId("kc", 77, Hasher());
  ASSERT_TRUE(g);
  EXPECT_TRUE(IsBadInput(ParseKey("kd", g->key)));
  EXPECT_TRUE(IsBadInput(ParseKey("k", g->key)));
  EXPECT_TRUE(IsBadInput(ParseKey("kcc", g->key)));
  EXPECT_TRUE(IsBadInput(ParseKey("", g->key)));
  // Same body under another prefix: the checksum covers the prefix too.
  const std::string moved = "kd" + g->key.substr(2);
  EXPECT_TRUE(IsBadInput(ParseKey("kd", moved)));
}

TEST(ApiKey, ParseRejectsMissingUnderscore) {
  const std::string key = WithChecksum("kc", KeyIdToString(5), kSecret);
  ASSERT_EQ(ParsedId("kc", key), KeyId{5});
  std::string no_sep = key;
  no_sep[2] = 'x';
  EXPECT_TRUE(IsBadInput(ParseKey("kc", no_sep)));
  EXPECT_TRUE(IsBadInput(ParseKey("kc", "kc" + key.substr(3))));  // one short
  std::string dash = key;
  dash[2] = '-';
  EXPECT_TRUE(IsBadInput(ParseKey("kc", dash)));
}

TEST(ApiKey, ParseRejectsWrongLength) {
  auto g = GenerateKeyWithId(kPrefix, 9, Hasher());
  ASSERT_TRUE(g);
  const std::string& key = g->key;
  EXPECT_TRUE(IsBadInput(ParseKey(kPrefix, "")));
  EXPECT_TRUE(IsBadInput(ParseKey(kPrefix, "kc_")));
  EXPECT_TRUE(IsBadInput(ParseKey(kPrefix, key.substr(0, key.size() - 1))));
  EXPECT_TRUE(IsBadInput(ParseKey(kPrefix, key + "0")));
  EXPECT_TRUE(IsBadInput(ParseKey(kPrefix, key + key)));
  EXPECT_TRUE(IsBadInput(ParseKey(kPrefix, " " + key)));
  EXPECT_TRUE(IsBadInput(ParseKey(kPrefix, key + "\n")));
}

TEST(ApiKey, ParseRejectsNonBase62CharactersEvenWithAMatchingChecksum) {
  std::string secret = kSecret;
  secret[10] = '-';
  EXPECT_TRUE(IsBadInput(ParseKey("kc", WithChecksum("kc", KeyIdToString(5), secret))));
  secret[10] = '\0';
  EXPECT_TRUE(IsBadInput(ParseKey("kc", WithChecksum("kc", KeyIdToString(5), secret))));
  EXPECT_TRUE(IsBadInput(ParseKey("kc", WithChecksum("kc", "0000000000+", kSecret))));
  EXPECT_TRUE(IsBadInput(ParseKey("kc", WithChecksum("kc", "_0000000000", kSecret))));

  std::string key = WithChecksum("kc", KeyIdToString(5), kSecret);
  key.back() = '=';
  EXPECT_TRUE(IsBadInput(ParseKey("kc", key)));
}

TEST(ApiKey, ParseRejectsIdOverflowEvenWithAMatchingChecksum) {
  EXPECT_EQ(ParsedId("kc", WithChecksum("kc", "LygHa16AHYF", kSecret)), kMaxId);
  EXPECT_TRUE(IsBadInput(ParseKey("kc", WithChecksum("kc", "LygHa16AHYG", kSecret))));
  EXPECT_TRUE(IsBadInput(ParseKey("kc", WithChecksum("kc", "zzzzzzzzzzz", kSecret))));
}

TEST(ApiKey, ParseRejectsBadChecksum) {
  const std::string key = WithChecksum("kc", KeyIdToString(5), kSecret);
  std::string bad = key;
  bad.replace(bad.size() - kChecksumChars, kChecksumChars, "000000");
  ASSERT_NE(bad, key);
  EXPECT_TRUE(IsBadInput(ParseKey("kc", bad)));
  // A checksum value above 2^32 can never match.
  bad.replace(bad.size() - kChecksumChars, kChecksumChars, "zzzzzz");
  EXPECT_TRUE(IsBadInput(ParseKey("kc", bad)));
}

TEST(ApiKey, EverySingleCharacterSubstitutionIsRejected) {
  auto g = GenerateKeyWithId("live", 0x0123456789abcdefULL, Hasher());
  ASSERT_TRUE(g);
  const std::string& key = g->key;
  ASSERT_TRUE(ParseKey("live", key));
  int tried = 0;
  for (std::size_t i = 0; i < key.size(); ++i) {
    for (char c : base62::kAlphabet) {
      if (c == key[i]) continue;
      std::string typo = key;
      typo[i] = c;
      ASSERT_TRUE(IsBadInput(ParseKey("live", typo))) << "position " << i << " -> " << c;
      ++tried;
    }
  }
  EXPECT_EQ(tried, static_cast<int>(key.size()) * 61 + 1 /* '_' is not in the alphabet */);
}

TEST(ApiKey, AdjacentTranspositionsAreRejected) {
  auto g = GenerateKeyWithId(kPrefix, 42, Hasher());
  ASSERT_TRUE(g);
  for (std::size_t i = 0; i + 1 < g->key.size(); ++i) {
    std::string typo = g->key;
    std::swap(typo[i], typo[i + 1]);
    if (typo == g->key) continue;
    EXPECT_TRUE(IsBadInput(ParseKey(kPrefix, typo))) << "swap at " << i;
  }
}

// PeekKeyId reads only the shape and the id: for every key ParseKeyParts accepts it names the
// same id, and it refuses whatever has the wrong prefix, length, version or id digits.
TEST(ApiKey, PeekKeyIdAgreesWithParseOnEveryKeyParseAccepts) {
  for (KeyId id : {KeyId{1}, KeyId{42}, KeyId{0x0123456789abcdefULL}, kMaxId}) {
    const auto tagged = GenerateKeyWithId(kPrefix, id, Hasher());
    const auto legacy = GenerateLegacyKeyWithId(kPrefix, id, Hasher());
    ASSERT_TRUE(tagged && legacy);
    for (const std::string& key : {tagged->key, legacy->key}) {
      ASSERT_TRUE(ParseKeyParts(kPrefix, key));
      auto peeked = PeekKeyId(kPrefix, key);
      ASSERT_TRUE(peeked) << key;
      EXPECT_EQ(*peeked, id);
      EXPECT_EQ(*peeked, ParseKeyParts(kPrefix, key)->id);
    }
    std::string tagged_v1 = tagged->key;
    tagged_v1[kPrefix.size() + 1] = '1';  // the tagged length with another version digit
    EXPECT_TRUE(IsBadInput(PeekKeyId(kPrefix, tagged_v1)));
    EXPECT_TRUE(IsBadInput(PeekKeyId("other", tagged->key)));
    EXPECT_TRUE(IsBadInput(PeekKeyId(kPrefix, tagged->key.substr(0, tagged->key.size() - 1))));
    EXPECT_TRUE(IsBadInput(PeekKeyId(kPrefix, tagged->key + "a")));
    std::string no_separator = legacy->key;
    no_separator[kPrefix.size()] = 'x';
    EXPECT_TRUE(IsBadInput(PeekKeyId(kPrefix, no_separator)));
    std::string bad_id = legacy->key;
    bad_id[kPrefix.size() + 1] = '-';
    EXPECT_TRUE(IsBadInput(PeekKeyId(kPrefix, bad_id)));
  }
  EXPECT_TRUE(IsBadInput(PeekKeyId(kPrefix, "")));
  EXPECT_TRUE(IsBadInput(PeekKeyId(kPrefix, "kc_")));
  // An id past 2^64 is refused as ParseKeyParts refuses it.
  EXPECT_TRUE(IsBadInput(PeekKeyId("kc", WithChecksum("kc", "zzzzzzzzzzz", kSecret))));
}

}  // namespace
}  // namespace keycache
