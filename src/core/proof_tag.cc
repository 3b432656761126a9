#include "core/proof_tag.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <bit>

#include "util/check.h"

namespace keycache {
namespace {

std::uint64_t LoadLe64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

struct SipState {
  std::uint64_t v0, v1, v2, v3;

  void Round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }
  // c = 2 rounds per message word.
  void Absorb(std::uint64_t m) {
    v3 ^= m;
    Round();
    Round();
    v0 ^= m;
  }
  // d = 4 rounds per output word.
  std::uint64_t Squeeze() {
    for (int i = 0; i < 4; ++i) Round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

}  // namespace

ProofTags::ProofTags() {
  unsigned char key[16];
  KC_CHECK(RAND_bytes(key, sizeof key) == 1);
  k0_ = LoadLe64(key);
  k1_ = LoadLe64(key + 8);
  OPENSSL_cleanse(key, sizeof key);  // a plain memset of a dead local may be dropped
}

// SipHash-2-4 with 128-bit output (Aumasson and Bernstein; the reference implementation's
// "siphash128"), little-endian words.
ProofTag ProofTags::Tag(std::string_view bytes) const {
  SipState s{k0_ ^ 0x736f6d6570736575ULL, k1_ ^ 0x646f72616e646f6dULL ^ 0xee,
             k0_ ^ 0x6c7967656e657261ULL, k1_ ^ 0x7465646279746573ULL};
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  const std::size_t whole = n & ~std::size_t{7};
  for (std::size_t i = 0; i < whole; i += 8) s.Absorb(LoadLe64(p + i));
  std::uint64_t last = static_cast<std::uint64_t>(n & 0xff) << 56;
  for (std::size_t i = whole; i < n; ++i)
    last |= static_cast<std::uint64_t>(p[i]) << (8 * (i - whole));
  s.Absorb(last);
  s.v2 ^= 0xee;
  ProofTag out;
  out[0] = s.Squeeze();
  s.v1 ^= 0xdd;
  out[1] = s.Squeeze();
  return out;
}

}  // namespace keycache
