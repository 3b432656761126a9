#include "l2/invalidation_listener.h"

#include "cache/l1_invalidator.h"
#include "l2/invalidation_message.h"
#include "util/clock.h"

namespace keycache {

InvalidationListener::InvalidationListener(L1Cache& l1, LeaseKeeper& lease, std::string instance_id,
                                           Histogram& lag_seconds, Logger& log)
    : l1_(l1),
      lease_(lease),
      instance_id_(std::move(instance_id)),
      lag_seconds_(lag_seconds),
      log_(log) {}

void InvalidationListener::OnMessage(std::string_view payload) {
  auto m = DecodeInvalidation(payload);
  if (!m) {
    OnAnomaly("a payload that is not a keycache v1 message");
    return;
  }
  if (m->heartbeat) {
    if (m->source == instance_id_) {
      lease_.OnHeard(m->heartbeat_seq);
    } else {
      NotePeer(m->source);
    }
    return;
  }
  if (m->warm) {  // a warm-up request: ours ran already
    if (m->source == instance_id_) return;
    NotePeer(m->source);
    if (on_warm_) on_warm_();
    return;
  }
  // Our own changes were applied to L1 before they were published, but a request on this
  // instance may have refilled L1 from Redis in between (a fill ticket taken after our L1
  // invalidation, reading the old entry before our fence reached Redis). Heard back, the fence
  // has run: apply the change again, so that refill does not outlive it (found by PgOutage:
  // a deleted key VALID on the instance that deleted it for 18 s).
  if (m->source == instance_id_) {
    Apply(m->change);
    return;
  }
  Apply(m->change);
  received_.fetch_add(1, std::memory_order_relaxed);
  const std::int64_t lag_us = WallMicros() - m->sent_at_us;
  lag_seconds_.Observe(lag_us > 0 ? static_cast<double>(lag_us) / 1e6 : 0.0);
}

void InvalidationListener::Apply(const CacheChange& c) { ApplyToL1(l1_, c); }

void InvalidationListener::OnAnomaly(std::string_view what) {
  // Whatever it was, it may have been an invalidation we can no longer read. The lease goes
  // first: whoever sees the anomaly counted must also see L1 untrusted.
  lease_.OnChannelLost();
  anomalies_.fetch_add(1, std::memory_order_release);
  std::uint64_t suppressed = 0;
  if (anomaly_log_.Allow(suppressed)) {
    log_.Warn("invalidation_push_rejected",
              {{"reason", what},
               {"suppressed_since_last", std::to_string(suppressed)},
               {"effect", "treated as a lost invalidation: L1 untrusted until flushed"}});
  }
}

void InvalidationListener::OnSubscribed() {
  up_.store(true, std::memory_order_release);
  log_.Info("invalidation_channel_up",
            {{"l1", "trusted again once this instance hears its own heartbeat (flushed then)"}});
}

void InvalidationListener::OnDisconnected() {
  up_.store(false, std::memory_order_release);
  lease_.OnChannelLost();
  log_.Warn("invalidation_channel_down",
            {{"l1", "not trusted (the database answers) until the channel is back"}});
}

void InvalidationListener::NotePeer(const std::string& source) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  if (peers_.size() >= kMaxPeers && !peers_.contains(source)) {
    // Bounded: forget instances not heard for a while (anyone can publish on the channel).
    std::erase_if(peers_, [&](const auto& p) { return now - p.second > std::chrono::seconds(5); });
    if (peers_.size() >= kMaxPeers) return;
  }
  peers_[source] = now;
}

std::size_t InvalidationListener::peers(std::chrono::milliseconds within) const {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [id, seen] : peers_) {
    if (now - seen <= within) ++n;
  }
  return n;
}

}  // namespace keycache
