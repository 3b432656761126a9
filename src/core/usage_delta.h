// UsageDelta: verifications of one key counted in memory since the last flush, on their way to
// the store (and to the shared per-minute counters). Plain value.
#pragma once

#include <cstdint>
#include <string>

#include "core/key_id.h"
#include "util/clock.h"

namespace keycache {

struct UsageDelta {
  KeyId id = 0;
  std::uint64_t count = 0;
  TimeMs last_used_at = 0;
  std::string last_used_ip;
};

}  // namespace keycache
