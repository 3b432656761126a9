// NotifyCoherence: keeps this instance's L1 coherent with the other instances' changes over a
// plain publish/subscribe channel that is not Redis — PostgreSQL LISTEN/NOTIFY (store/
// pg_notify_channel.h) when instances share a PostgreSQL database and no Redis. It is the Redis
// tier's coherence logic without the shared cache (docs/adr/0005):
//  - as an InvalidationSink it publishes each committed change (InvalidationMessage: the change,
//    this instance, its wall clock) and reports it in force once the channel took it; one the
//    channel did not take is reported pending (the operation answers 503 "committed, not yet in
//    force") and kept, and replayed, in order, after the next heartbeat the channel takes;
//  - every `heartbeat` interval it publishes its own heartbeat; hearing one back (the channel
//    delivers in commit order) proves that every change published before it has reached this L1,
//    and renews the CoherenceLease to the heartbeat's send time plus `lease`;
//  - messages go through the same InvalidationListener as Redis's (other instances' changes are
//    applied to L1 and their lag recorded in keycache_invalidation_propagation_pg_seconds);
//  - a lost channel revokes the lease and flushes L1, and L1 is flushed again when the lease is
//    regained (whatever was filled meanwhile may predate a change that was missed).
// While the lease is not held, L1 must not answer (Verifier and KeyService check lease()).
// Thread-safety: Announce, lease() and Status() from any thread; the On* members from the
// channel's one thread (the one that also runs the publish callbacks).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cache/l1_cache.h"
#include "core/invalidation_sink.h"
#include "l2/coherence_lease.h"
#include "l2/heartbeat.h"
#include "l2/invalidation_listener.h"
#include "l2/invalidation_message.h"
#include "l2/tier_status.h"
#include "metrics/histogram.h"
#include "metrics/registry.h"
#include "util/log.h"

namespace keycache {

struct NotifyCoherenceOptions {
  std::string instance_id;
  std::chrono::milliseconds lease{1000};     // KEYCACHE_COHERENCE_LEASE
  std::chrono::milliseconds heartbeat{250};  // at most lease / 2
  std::int64_t l1_max_age_ms = 60'000;       // KEYCACHE_L1_MAX_AGE: the backstop
};

class NotifyCoherence final : public InvalidationSink, public LeaseKeeper, public TierStatusSource {
 public:
  using Clock = std::chrono::steady_clock;
  // Sends `payload` on the channel; `sent(true)` once it is delivered to every listener.
  using Publish = std::function<void(std::string payload, std::function<void(bool)> sent)>;

  // Registers the keycache_*_pg metrics. References must outlive this.
  NotifyCoherence(NotifyCoherenceOptions options, Publish publish, L1Cache& l1, Registry& registry,
                  Logger& log);

  void Announce(const CacheChange& change, PropagationDone done) override;
  // Asks every other instance to warm its caches; `sent(true)` once the channel took it (never
  // replayed: a warm-up is not a change).
  void RequestWarm(std::function<void(bool)> sent);
  // See InvalidationListener::SetWarmHandler.
  void SetWarmHandler(std::function<void()> on_warm) {
    listener_.SetWarmHandler(std::move(on_warm));
  }

  // The channel's events (its thread).
  void OnMessage(std::string_view payload);
  void OnListening();
  void OnLost();
  void OnTick();

  // LeaseKeeper, reported by the listener.
  void OnHeard(std::uint64_t seq) override;
  void OnChannelLost() override;

  const CoherenceLease& lease() const { return lease_; }
  const std::string& instance_id() const { return options_.instance_id; }
  std::size_t pending() const;
  TierStatus Status() const override;

 private:
  struct Beat {
    std::uint64_t seq = 0;
    Clock::time_point sent;
    bool written = false;  // the channel took it
    bool heard = false;    // it came back
  };

  void SendBeat(Clock::time_point now);
  void OnBeatWritten(std::uint64_t seq);
  void MaybeRenew(Beat& beat);
  Beat* Find(std::uint64_t seq);
  void Send(InvalidationMessage m, PropagationDone done);
  void Defer(InvalidationMessage m);
  void ReplayPending();

  const NotifyCoherenceOptions options_;
  const Publish publish_;
  L1Cache& l1_;
  Logger& log_;
  CoherenceLease lease_;
  Histogram& lag_;
  InvalidationListener listener_;

  // Channel thread only.
  std::uint64_t next_seq_ = 1;
  Clock::time_point last_beat_;
  std::deque<Beat> beats_;

  std::atomic<Clock::rep> last_sign_of_life_{0};  // steady ticks; 0 = never
  std::atomic<Clock::rep> last_renewal_{0};
  std::atomic<std::uint64_t> losses_{0};
  mutable std::mutex mu_;  // guards pending_
  std::vector<InvalidationMessage> pending_;
};

}  // namespace keycache
