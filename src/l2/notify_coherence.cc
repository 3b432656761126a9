#include "l2/notify_coherence.h"

#include "l2/propagation_lag.h"
#include "l2/redis_invalidator.h"
#include "util/clock.h"

namespace keycache {
namespace {

double SecondsSince(std::int64_t ticks) {
  if (ticks == 0) return -1;
  const auto then =
      std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(ticks));
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - then).count();
}

std::string PendingReason() {
  return "the PostgreSQL invalidation channel (NOTIFY) did not take the invalidation";
}

}  // namespace

NotifyCoherence::NotifyCoherence(NotifyCoherenceOptions options, Publish publish, L1Cache& l1,
                                 Registry& registry, Logger& log)
    : options_(std::move(options)),
      publish_(std::move(publish)),
      l1_(l1),
      log_(log),
      lease_(options_.lease),
      lag_(registry
               .AddHistogram("keycache_invalidation_propagation_pg_seconds",
                             "Delay from a change's NOTIFY by one instance (its wall clock) to "
                             "its application by another (PostgreSQL channel).",
                             {}, PropagationLagBuckets())
               .With({})),
      listener_(l1, *this, options_.instance_id, lag_, log) {
  l1_.SetMaxEntryAge(options_.l1_max_age_ms);
  registry
      .AddCallbackGauge(
          "keycache_pg_notify_listening",
          "1 while the PostgreSQL LISTEN connection of the invalidation channel is up.")
      .Add({}, [this] { return listener_.channel_up() ? 1.0 : 0.0; });
  registry
      .AddCallbackGauge("keycache_pg_coherence_lease_held",
                        "1 while this instance holds its coherence lease over the PostgreSQL "
                        "channel (L1 answers are trusted); 0 while the database answers.")
      .Add({}, [this] { return lease_.Held() ? 1.0 : 0.0; });
  registry
      .AddCallbackGauge("keycache_pg_invalidations_received",
                        "Other instances' changes applied to L1 from the PostgreSQL channel.")
      .Add({}, [this] { return static_cast<double>(listener_.received()); });
  registry
      .AddCallbackGauge("keycache_pg_notify_losses",
                        "Times the PostgreSQL LISTEN connection was lost (each revoked the "
                        "coherence lease and flushed L1).")
      .Add({}, [this] { return static_cast<double>(losses_.load(std::memory_order_acquire)); });
  registry
      .AddCallbackGauge("keycache_pg_invalidations_pending",
                        "Invalidations kept for replay while the PostgreSQL channel is down.")
      .Add({}, [this] { return static_cast<double>(pending()); });
}

void NotifyCoherence::Announce(const CacheChange& change, PropagationDone done) {
  InvalidationMessage m;
  m.source = options_.instance_id;
  m.change = change;
  Send(std::move(m), std::move(done));
}

void NotifyCoherence::RequestWarm(std::function<void(bool)> sent) {
  InvalidationMessage m;
  m.source = options_.instance_id;
  m.sent_at_us = WallMicros();
  m.warm = true;
  publish_(EncodeInvalidation(m), std::move(sent));
}

void NotifyCoherence::Send(InvalidationMessage m, PropagationDone done) {
  m.sent_at_us = WallMicros();
  std::string payload = EncodeInvalidation(m);
  publish_(std::move(payload), [this, m = std::move(m), done = std::move(done)](bool sent) mutable {
    if (!sent) Defer(std::move(m));
    if (done) done(sent ? Propagation::InForce() : Propagation::Pending(PendingReason()));
  });
}

void NotifyCoherence::Defer(InvalidationMessage m) {
  std::lock_guard lock(mu_);
  if (pending_.size() >= RedisInvalidator::kMaxPending) {
    InvalidationMessage all;
    all.source = options_.instance_id;
    all.change = CacheChange::All();
    pending_.assign(1, std::move(all));
    return;
  }
  if (pending_.empty()) {
    log_.Warn("pg_invalidation_deferred",
              {{"effect", "the change is committed; it is replayed when the channel is back"}});
  }
  pending_.push_back(std::move(m));
}

void NotifyCoherence::ReplayPending() {
  std::vector<InvalidationMessage> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
  }
  if (batch.empty()) return;
  log_.Info("pg_invalidations_replayed", {{"count", std::to_string(batch.size())}});
  // Each one not taken is deferred again by Send.
  for (InvalidationMessage& m : batch) Send(std::move(m), nullptr);
}

std::size_t NotifyCoherence::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

void NotifyCoherence::OnMessage(std::string_view payload) {
  last_sign_of_life_.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
  listener_.OnMessage(payload);
}

void NotifyCoherence::OnListening() {
  listener_.OnSubscribed();
  SendBeat(Clock::now());  // regain the lease at once rather than at the next interval
}

void NotifyCoherence::OnLost() {
  listener_.OnDisconnected();
  losses_.fetch_add(1, std::memory_order_release);  // after the flush: tests wait for it
}

void NotifyCoherence::OnTick() {
  const Clock::time_point now = Clock::now();
  if (listener_.channel_up() && now - last_beat_ >= options_.heartbeat) SendBeat(now);
}

void NotifyCoherence::SendBeat(Clock::time_point now) {
  // A beat older than the lease can no longer renew it.
  while (!beats_.empty() && now - beats_.front().sent > lease_.length()) beats_.pop_front();
  last_beat_ = now;
  const std::uint64_t seq = next_seq_++;
  beats_.push_back(Beat{.seq = seq, .sent = now});
  InvalidationMessage m;
  m.source = options_.instance_id;
  m.sent_at_us = WallMicros();
  m.heartbeat = true;
  m.heartbeat_seq = seq;
  publish_(EncodeInvalidation(m), [this, seq](bool sent) {
    if (sent) OnBeatWritten(seq);
  });
}

void NotifyCoherence::OnBeatWritten(std::uint64_t seq) {
  if (Beat* b = Find(seq)) {
    b->written = true;
    MaybeRenew(*b);
  }
  // The channel takes messages again: what it missed goes out now.
  ReplayPending();
}

void NotifyCoherence::OnHeard(std::uint64_t seq) {
  if (Beat* b = Find(seq)) {
    b->heard = true;
    MaybeRenew(*b);
  }
}

void NotifyCoherence::MaybeRenew(Beat& beat) {
  if (!beat.written || !beat.heard) return;
  if (lease_.flush_needed()) {
    // Messages may have been lost since the lease was revoked: nothing cached before this point
    // may be served. Fills begun before the flush are refused by its epoch.
    l1_.ClearAll();
    log_.Info("pg_coherence_lease_regained", {{"l1", "flushed"}});
  }
  lease_.Renew(beat.sent);
  last_renewal_.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
}

void NotifyCoherence::OnChannelLost() {
  const bool was_held = lease_.Held();
  lease_.Revoke();
  l1_.ClearAll();
  if (was_held) {
    log_.Warn("pg_coherence_lease_revoked",
              {{"effect",
                "L1 flushed and not trusted (the database answers) until a heartbeat comes back "
                "on the PostgreSQL channel"}});
  }
}

NotifyCoherence::Beat* NotifyCoherence::Find(std::uint64_t seq) {
  for (Beat& b : beats_) {
    if (b.seq == seq) return &b;
  }
  return nullptr;
}

TierStatus NotifyCoherence::Status() const {
  TierStatus s;
  s.connected = listener_.channel_up();
  s.pool_connected = s.connected ? 1 : 0;
  s.pool_size = 1;
  s.breaker_open = false;
  s.lease_held = lease_.Held();
  s.lease_remaining_seconds = std::chrono::duration<double>(lease_.Remaining()).count();
  s.last_renewal_age_seconds = SecondsSince(last_renewal_.load(std::memory_order_acquire));
  s.channel_up = listener_.channel_up();
  s.channel_silence_seconds = SecondsSince(last_sign_of_life_.load(std::memory_order_acquire));
  s.invalidations_received = listener_.received();
  s.invalidations_pending = pending();
  s.channel_anomalies = listener_.anomalies();
  s.peers = listener_.peers();
  const Histogram::Snapshot lag = lag_.Collect();
  s.propagation_samples = lag.count;
  s.propagation_p50_seconds = BucketQuantile(lag_, lag, 0.5);
  s.propagation_p99_seconds = BucketQuantile(lag_, lag, 0.99);
  return s;
}

}  // namespace keycache
