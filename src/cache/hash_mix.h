// MixHash: a 64-bit finalizer (MurmurHash3 fmix64) that spreads every input bit over every output
// bit. std::hash<std::uint64_t> is the identity, so shard, slot and stripe choices use mixed bits.
// Pure.
#pragma once

#include <cstdint>

namespace keycache {

constexpr std::uint64_t MixHash(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

}  // namespace keycache
