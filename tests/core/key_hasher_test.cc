#include "core/key_hasher.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <random>
#include <string>

namespace keycache {
namespace {

KeyHash OneShotHmac(std::string_view pepper, std::string_view data) {
  KeyHash out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), pepper.data(), static_cast<int>(pepper.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  EXPECT_EQ(len, out.size());
  return out;
}

std::string RandomBytes(std::mt19937& rng, std::size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::string Hex(const KeyHash& h) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (auto b : h) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 15]);
  }
  return s;
}

TEST(KeyHasher, MatchesOpenSslHmacForManyPeppersAndInputs) {
  std::mt19937 rng(2024);
  for (std::size_t pepper_len : {32u, 33u, 63u, 64u, 65u, 128u, 200u}) {
    const std::string pepper = RandomBytes(rng, pepper_len);
    const KeyHasher hasher(pepper);
    for (int i = 0; i < 300; ++i) {
      // Lengths around the 55/56/64-byte padding boundaries matter most; cover 0..299.
      const std::string data = RandomBytes(rng, static_cast<std::size_t>(i));
      ASSERT_EQ(hasher.Hash(data), OneShotHmac(pepper, data))
          << "pepper " << pepper_len << " data " << i;
    }
  }
}

TEST(KeyHasher, HashIsRepeatableAndDependsOnPepperAndKey) {
  const std::string pepper(32, 'p');
  const KeyHasher a(pepper);
  const KeyHasher b(std::string(31, 'p') + "q");
  EXPECT_EQ(a.Hash("kc_abc"), a.Hash("kc_abc"));
  EXPECT_NE(a.Hash("kc_abc"), a.Hash("kc_abd"));
  EXPECT_NE(a.Hash("kc_abc"), b.Hash("kc_abc"));
}

// RFC 4231 test cases 6 and 7, the ones whose key (131 bytes) meets kMinPepperBytes; both also
// exercise hashing a pepper longer than the block.
TEST(KeyHasher, Rfc4231Vectors) {
  const std::string key(131, '\xaa');
  const KeyHasher hasher(key);
  EXPECT_EQ(Hex(hasher.Hash("Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(Hex(hasher.Hash("This is a test using a larger than block-size key and a larger than "
                            "block-size data. The key needs to be hashed before being used by "
                            "the HMAC algorithm.")),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST(KeyHasher, IsUsableFromConstCopies) {
  const std::string pepper(64, 'k');
  const KeyHasher original(pepper);
  const KeyHasher copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(copy.Hash("x"), original.Hash("x"));
  EXPECT_EQ(copy.Hash("x"), OneShotHmac(pepper, "x"));
}

TEST(HashEquals, ComparesAllBytes) {
  KeyHash a{};
  KeyHash b{};
  EXPECT_TRUE(HashEquals(a, b));
  for (std::size_t i = 0; i < a.size(); ++i) {
    b = a;
    b[i] ^= 0x01;
    EXPECT_FALSE(HashEquals(a, b)) << i;
    b[i] ^= 0x81;
    EXPECT_FALSE(HashEquals(a, b)) << i;
  }
}

}  // namespace
}  // namespace keycache
