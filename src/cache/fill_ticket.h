// FillTicket: what a cache fill saw before it read the source of truth (the key's generation and
// the cache's clear epoch). CompleteFill compares it with the present to refuse a fill that an
// invalidation or a Clear() overtook. Value type.
#pragma once

#include <cstdint>

namespace keycache {

struct FillTicket {
  std::uint64_t generation = 0;
  std::uint64_t epoch = 0;
};

}  // namespace keycache
