// TierStatus: the Redis tier's state as the health checks and the status page report it, and the
// interface RedisTier implements to provide it. Plain values; Status() is thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "l2/l2_cache.h"

namespace keycache {

struct TierStatus {
  bool connected = false;  // at least one pooled connection is up
  std::size_t pool_connected = 0;
  std::size_t pool_size = 0;
  bool breaker_open = true;
  std::string breaker_reason;  // why it last opened
  std::string last_error;      // the pool's last connection failure
  // The coherence lease: while not held, neither L1 nor Redis answers verifications.
  bool lease_held = false;
  double lease_remaining_seconds = 0;    // negative once lapsed
  double last_renewal_age_seconds = -1;  // -1 = never renewed
  bool channel_up = false;               // the invalidation subscription is confirmed
  double channel_silence_seconds = -1;   // since the channel's last sign of life; -1 = never
  std::uint64_t invalidations_received = 0;
  std::uint64_t invalidations_pending = 0;  // deferred while Redis was away
  std::uint64_t channel_anomalies = 0;      // pushes that were not messages of ours
  std::size_t peers = 0;                    // other instances heard in the last 5 s
  std::uint64_t propagation_samples = 0;
  double propagation_p50_seconds = 0, propagation_p99_seconds = 0;  // bucket upper bounds
  std::optional<L2Counts> entries;  // last SCAN count, refreshed in the background
  // Sentinel mode only.
  bool sentinel = false;
  std::string primary;          // the primary's host:port as the Sentinels named it; "" = none
  std::uint64_t failovers = 0;  // changes of primary followed since start
  std::size_t sentinels_subscribed = 0;  // Sentinels whose +switch-master subscription is up
};

class TierStatusSource {
 public:
  virtual ~TierStatusSource() = default;
  virtual TierStatus Status() const = 0;
};

}  // namespace keycache
