// ProofTags: SipHash-2-4-128, checked against the reference implementation's published vector and
// against OpenSSL's own SipHash (EVP_MAC "SIPHASH", 16-byte output) on every length a key can
// have; a fresh instance draws its own key.
#include "core/proof_tag.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <random>
#include <string>

namespace keycache {
namespace {

constexpr std::uint64_t kK0 = 0x0706050403020100ULL;  // the reference key 00 01 .. 0f
constexpr std::uint64_t kK1 = 0x0f0e0d0c0b0a0908ULL;

std::array<unsigned char, 16> Bytes(const ProofTag& t) {
  std::array<unsigned char, 16> out{};
  for (int w = 0; w < 2; ++w) {
    for (int i = 0; i < 8; ++i) out[w * 8 + i] = static_cast<unsigned char>(t[w] >> (8 * i));
  }
  return out;
}

std::array<unsigned char, 16> OpenSslSipHash128(const std::string& msg) {
  std::array<unsigned char, 16> key{};
  for (int i = 0; i < 16; ++i) key[i] = static_cast<unsigned char>(i);
  std::array<unsigned char, 16> out{};
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "SIPHASH", nullptr);
  EXPECT_NE(mac, nullptr);
  if (mac == nullptr) return out;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  unsigned int size = 16;
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_SIZE, &size),
                               OSSL_PARAM_construct_end()};
  std::size_t len = 0;
  EXPECT_EQ(EVP_MAC_init(ctx, key.data(), key.size(), params), 1);
  EXPECT_EQ(EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(msg.data()), msg.size()), 1);
  EXPECT_EQ(EVP_MAC_final(ctx, out.data(), &len, out.size()), 1);
  EXPECT_EQ(len, 16u);
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  return out;
}

TEST(ProofTagTest, MatchesTheReferenceVectorForTheEmptyMessage) {
  const std::array<unsigned char, 16> want{0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
                                           0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93};
  EXPECT_EQ(Bytes(ProofTags(kK0, kK1).Tag("")), want);
}

TEST(ProofTagTest, MatchesOpenSslsSipHashOnEveryLengthUpTo128) {
  const ProofTags tags(kK0, kK1);
  std::string msg;
  for (int n = 0; n <= 128; ++n) {
    EXPECT_EQ(Bytes(tags.Tag(msg)), OpenSslSipHash128(msg)) << "length " << n;
    msg.push_back(static_cast<char>(n));  // the reference messages: 00 01 02 ...
  }
  std::mt19937 rng(11);
  for (int i = 0; i < 200; ++i) {
    std::string random(rng() % 100, '\0');
    for (char& c : random) c = static_cast<char>(rng());
    EXPECT_EQ(Bytes(tags.Tag(random)), OpenSslSipHash128(random)) << i;
  }
}

TEST(ProofTagTest, EachInstanceDrawsItsOwnKeyAndEveryByteMatters) {
  const std::string key = "ak_2Jz8QbYtHq7Lm0pXcV5nR9sKdWfE3gUoTyA1iB6";
  const ProofTags a;
  const ProofTags b;
  EXPECT_TRUE(TagEquals(a.Tag(key), a.Tag(key)));
  EXPECT_FALSE(TagEquals(a.Tag(key), b.Tag(key)));
  for (std::size_t i = 0; i < key.size(); ++i) {
    std::string other = key;
    other[i] ^= 1;
    EXPECT_FALSE(TagEquals(a.Tag(key), a.Tag(other))) << i;
  }
  EXPECT_FALSE(TagEquals(a.Tag(key), a.Tag(key + "x")));
  EXPECT_FALSE(TagEquals(a.Tag(key), a.Tag(key.substr(0, key.size() - 1))));
}

}  // namespace
}  // namespace keycache
