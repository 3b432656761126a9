// UsageDelta: verifications of one key counted in memory since the last flush, on their way to
// the store (and to the shared per-minute counters). Plain value.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "core/key_id.h"
#include "util/clock.h"

namespace keycache {

struct UsageDelta {
  KeyId id = 0;
  std::uint64_t count = 0;
  TimeMs last_used_at = 0;
  std::string last_used_ip;
};

// Merges uses of one key into `into` (a UsageDelta, or any record with the same three fields):
// counts add up and the later use's time and IP win (newer wins; a tie keeps what is there).
template <class Into, class Ip>
void MergeUses(Into& into, std::uint64_t count, TimeMs last_used_at, Ip&& last_used_ip) {
  into.count += count;
  if (last_used_at > into.last_used_at) {
    into.last_used_at = last_used_at;
    into.last_used_ip = std::forward<Ip>(last_used_ip);
  }
}

}  // namespace keycache
