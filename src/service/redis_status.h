// RedisStatus: the Redis tier's state as the health checks report it, and the interface the
// wiring implements to provide it. Values are plain; Status() is thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "l2/l2_cache.h"

namespace keycache {

struct RedisStatus {
  bool connected = false;  // at least one pooled connection is up
  std::size_t pool_connected = 0;
  std::size_t pool_size = 0;
  bool breaker_open = true;
  std::string breaker_reason;           // why it last opened
  std::string last_error;               // the pool's last connection failure
  bool channel_up = false;              // the invalidation subscription is confirmed
  double channel_silence_seconds = -1;  // since the channel's last sign of life; -1 = never
  std::uint64_t invalidations_received = 0;
  std::uint64_t invalidations_pending = 0;  // deferred while Redis was away
  std::uint64_t propagation_samples = 0;
  double propagation_p50_seconds = 0, propagation_p99_seconds = 0;  // bucket upper bounds
  std::optional<L2Counts> entries;  // last SCAN count, refreshed in the background
};

class RedisStatusSource {
 public:
  virtual ~RedisStatusSource() = default;
  virtual RedisStatus Status() const = 0;
};

}  // namespace keycache
