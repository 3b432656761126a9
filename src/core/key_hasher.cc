#include "core/key_hasher.h"

#include <openssl/crypto.h>

#include <array>
#include <cassert>

namespace keycache {
namespace {

constexpr std::size_t kBlockBytes = 64;  // SHA-256 block size, the HMAC key width

}  // namespace

// The low-level SHA256_* API is deprecated in OpenSSL 3 in favour of EVP, but EVP cannot
// snapshot a digest state into a plain struct that we copy per call without allocation, and
// the copy is the point of this class (see the header). The API is still shipped and tested.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

KeyHasher::KeyHasher(std::string_view pepper) {
  assert(pepper.size() >= kMinPepperBytes);
  // RFC 2104: a key longer than the block is replaced by its hash, then zero-padded.
  std::array<unsigned char, kBlockBytes> key{};
  if (pepper.size() > kBlockBytes) {
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, pepper.data(), pepper.size());
    SHA256_Final(key.data(), &c);
    OPENSSL_cleanse(&c, sizeof c);
  } else {
    for (std::size_t i = 0; i < pepper.size(); ++i) key[i] = static_cast<unsigned char>(pepper[i]);
  }

  std::array<unsigned char, kBlockBytes> pad;
  for (std::size_t i = 0; i < kBlockBytes; ++i) pad[i] = key[i] ^ 0x36;
  SHA256_Init(&inner_);
  SHA256_Update(&inner_, pad.data(), pad.size());
  for (std::size_t i = 0; i < kBlockBytes; ++i) pad[i] = key[i] ^ 0x5c;
  SHA256_Init(&outer_);
  SHA256_Update(&outer_, pad.data(), pad.size());

  OPENSSL_cleanse(pad.data(), pad.size());
  OPENSSL_cleanse(key.data(), key.size());
}

KeyHash KeyHasher::Hash(std::string_view key) const {
  KeyHash out;
  SHA256_CTX c = inner_;
  SHA256_Update(&c, key.data(), key.size());
  SHA256_Final(out.data(), &c);  // inner digest, reused as the buffer for the outer one
  c = outer_;
  SHA256_Update(&c, out.data(), out.size());
  SHA256_Final(out.data(), &c);
  return out;
}

#pragma GCC diagnostic pop

bool HashEquals(const KeyHash& a, const KeyHash& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace keycache
