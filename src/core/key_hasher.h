// HMAC-SHA256(pepper, key) with the inner and outer pad states precomputed once, so hashing a
// key costs two SHA-256 compressions (~0.1-0.2 us) instead of OpenSSL's one-shot HMAC() setup.
// Immutable after construction; Hash() is const and safe to call from any thread.
#pragma once

#include <openssl/sha.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace keycache {

using KeyHash = std::array<std::uint8_t, 32>;

inline constexpr std::size_t kMinPepperBytes = 32;

class KeyHasher {
 public:
  // Precondition: pepper.size() >= kMinPepperBytes (checked by Config).
  explicit KeyHasher(std::string_view pepper);

  KeyHash Hash(std::string_view key) const;

 private:
  SHA256_CTX inner_;  // state after absorbing (pepper' XOR ipad)
  SHA256_CTX outer_;  // state after absorbing (pepper' XOR opad)
};

// Constant-time equality (CRYPTO_memcmp).
bool HashEquals(const KeyHash& a, const KeyHash& b);

}  // namespace keycache
