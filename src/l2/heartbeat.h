// Heartbeat: keeps this instance's coherence lease (docs/adr/0003) and brings the Redis tier back
// after a failure. Every `interval` it sends one heartbeat fence through L2Cache::Fence (INCR,
// PEXPIRE, UNLINK and PUBLISH, the very commands of a change, even through an open breaker) and
// remembers when it sent it. A heartbeat that Redis took without an error and that came back on
// the invalidation channel (OnHeard) renews the lease to its send time plus the lease length; if
// the lease was revoked meanwhile, L1 is flushed first. A heartbeat Redis took also replays the
// changes deferred while it was away and then closes the breaker.
// Run() and the On* members run on the tier's executor (single-threaded); Stop() and the
// accessors are thread-safe.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include "cache/l1_cache.h"
#include "l2/circuit_breaker.h"
#include "l2/coherence_lease.h"
#include "l2/l2_cache.h"
#include "l2/l2_metrics.h"
#include "l2/redis_invalidator.h"
#include "util/log.h"

namespace keycache {

// What the invalidation listener reports to whoever keeps the coherence lease (the Heartbeat).
// Called on the tier's executor.
class LeaseKeeper {
 public:
  virtual ~LeaseKeeper() = default;
  // This instance's heartbeat `seq` arrived on the invalidation channel.
  virtual void OnHeard(std::uint64_t seq) = 0;
  // The channel may have lost messages (it dropped, or delivered something unreadable).
  virtual void OnChannelLost() = 0;
};

struct HeartbeatOptions {
  std::string instance_id;
  std::chrono::milliseconds interval{250};
};

class Heartbeat final : public LeaseKeeper {
 public:
  using Clock = std::chrono::steady_clock;

  // References must outlive the heartbeat.
  Heartbeat(HeartbeatOptions options, boost::asio::any_io_executor executor, L2Cache& l2,
            CircuitBreaker& breaker, CoherenceLease& lease, RedisInvalidator& invalidator,
            L1Cache& l1, L2Metrics& metrics, Logger& log);

  // Beats until Stop(). Spawn once on the executor given to the constructor.
  boost::asio::awaitable<void> Run();
  // Any thread; Run() returns soon after (its timer is cancelled on the executor).
  void Stop();

  void OnHeard(std::uint64_t seq) override;
  // The lease lapses now, and L1 is flushed before it is renewed.
  void OnChannelLost() override;

  // Heartbeats sent, and the last time one renewed the lease (steady clock; {} = never).
  std::uint64_t sent() const { return sent_count_.load(std::memory_order_relaxed); }
  Clock::time_point last_renewal() const {
    return Clock::time_point(Clock::duration(last_renewal_.load(std::memory_order_acquire)));
  }

 private:
  struct Beat {
    std::uint64_t seq = 0;
    Clock::time_point sent;
    bool written = false;  // Redis took the whole fence
    bool heard = false;    // it came back on the channel
  };
  boost::asio::awaitable<void> BeatOnce();
  void MaybeRenew(Beat& beat);
  Beat* Find(std::uint64_t seq);
  void Prune(Clock::time_point now);

  const HeartbeatOptions options_;
  const boost::asio::any_io_executor executor_;
  L2Cache& l2_;
  CircuitBreaker& breaker_;
  CoherenceLease& lease_;
  RedisInvalidator& invalidator_;
  L1Cache& l1_;
  L2Metrics& metrics_;
  Logger& log_;

  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> sent_count_{0};
  std::atomic<Clock::rep> last_renewal_{0};

  // Executor-only.
  boost::asio::steady_timer timer_;
  std::uint64_t next_seq_ = 1;
  std::deque<Beat> beats_;  // the recent ones, oldest first
};

}  // namespace keycache
