// ProofTags: a per-process secret key and SipHash-2-4-128 under it, for the verification hit path.
//
// A presented key is checked for format and checksum, then authenticated by HMAC-SHA256 under the
// pepper (KeyHasher), two SHA-256 compressions and the largest cost of an L1 hit. Once a
// presentation has passed every check, the thread that checked it keeps a 128-bit SipHash tag of
// the whole presented key with its cached copy of the key's facts (HotFacts); the next
// presentation of the same bytes is recognised by its tag, with no check repeated (the same
// bytes pass the same checks). SipHash is a pseudorandom function keyed by 128 random bits that
// exist only in this process's memory, so without that key nobody can make other bytes with the
// same tag (docs/adr/0007). A tag that differs proves nothing: the caller runs every check, so a
// wrong secret (or checksum) costs what it always did, and is refused as before. Tags are never
// stored, logged or returned. Thread-safe: immutable after construction.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace keycache {

using ProofTag = std::array<std::uint64_t, 2>;

class ProofTags {
 public:
  // A fresh random key (OpenSSL's CSPRNG).
  ProofTags();
  // A given key: for tests against the reference vectors.
  ProofTags(std::uint64_t k0, std::uint64_t k1) : k0_(k0), k1_(k1) {}

  ProofTag Tag(std::string_view bytes) const;

 private:
  std::uint64_t k0_;
  std::uint64_t k1_;
};

// Constant-time equality: no early exit on the first differing word.
inline bool TagEquals(const ProofTag& a, const ProofTag& b) {
  return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
}

}  // namespace keycache
