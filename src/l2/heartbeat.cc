#include "l2/heartbeat.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace keycache {

Heartbeat::Heartbeat(HeartbeatOptions options, boost::asio::any_io_executor executor, L2Cache& l2,
                     CircuitBreaker& breaker, CoherenceLease& lease, RedisInvalidator& invalidator,
                     L1Cache& l1, L2Metrics& metrics, Logger& log)
    : options_(std::move(options)),
      executor_(std::move(executor)),
      l2_(l2),
      breaker_(breaker),
      lease_(lease),
      invalidator_(invalidator),
      l1_(l1),
      metrics_(metrics),
      log_(log),
      timer_(executor_) {}

void Heartbeat::Stop() {
  stopping_.store(true, std::memory_order_release);
  boost::asio::post(executor_, [this] { timer_.cancel(); });
}

boost::asio::awaitable<void> Heartbeat::Run() {
  while (!stopping_.load(std::memory_order_acquire)) {
    const Clock::time_point started = Clock::now();
    co_await BeatOnce();
    if (stopping_.load(std::memory_order_acquire)) break;
    timer_.expires_at(started + options_.interval);
    co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
}

boost::asio::awaitable<void> Heartbeat::BeatOnce() {
  const Clock::time_point now = Clock::now();
  Prune(now);
  Beat beat;
  beat.seq = next_seq_++;
  beat.sent = now;
  beats_.push_back(beat);
  InvalidationMessage m;
  m.source = options_.instance_id;
  m.sent_at_us = WallMicros();
  m.heartbeat = true;
  m.heartbeat_seq = beat.seq;
  sent_count_.fetch_add(1, std::memory_order_relaxed);
  Result<void> written = co_await l2_.Fence(std::move(m), /*even_if_open=*/true);
  if (!written) co_return;  // L2Cache opened the breaker and recorded why
  if (Beat* b = Find(beat.seq)) {
    b->written = true;
    MaybeRenew(*b);
  }
  // Redis takes writes again: what changed meanwhile goes out before anyone reads it again.
  if (invalidator_.pending() > 0) {
    const bool replayed = co_await invalidator_.ReplayPending();
    if (!replayed) co_return;
  }
  if (breaker_.open() && breaker_.Close()) {
    log_.Info("redis_available", {{"effect", "breaker closed; L2 and invalidations resumed"}});
  }
}

void Heartbeat::OnHeard(std::uint64_t seq) {
  if (Beat* b = Find(seq)) {
    b->heard = true;
    MaybeRenew(*b);
  }
}

void Heartbeat::MaybeRenew(Beat& beat) {
  if (!beat.written || !beat.heard) return;
  if (lease_.flush_needed()) {
    // Messages may have been lost since the lease was revoked: nothing cached before this point
    // may be served. Fills begun before the flush are refused by its epoch.
    l1_.ClearAll();
    log_.Info("coherence_lease_regained", {{"l1", "flushed"}});
  }
  lease_.Renew(beat.sent);
  last_renewal_.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
}

void Heartbeat::OnChannelLost() {
  const bool was_held = lease_.Held();
  lease_.Revoke();
  if (was_held) {
    log_.Warn("coherence_lease_revoked",
              {{"effect",
                "L1 and Redis answers are not trusted (the database answers) until a "
                "heartbeat comes back; L1 is flushed then"}});
  }
}

Heartbeat::Beat* Heartbeat::Find(std::uint64_t seq) {
  for (Beat& b : beats_) {
    if (b.seq == seq) return &b;
  }
  return nullptr;
}

void Heartbeat::Prune(Clock::time_point now) {
  // A beat older than the lease can no longer renew it.
  while (!beats_.empty() && now - beats_.front().sent > lease_.length()) beats_.pop_front();
}

}  // namespace keycache
