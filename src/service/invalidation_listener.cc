#include "service/invalidation_listener.h"

#include "l2/invalidation_message.h"
#include "util/clock.h"

namespace keycache {

InvalidationListener::InvalidationListener(L1Cache& l1, std::string instance_id, TimeMs max_age_ms,
                                           TimeMs degraded_max_age_ms, Histogram& lag_seconds,
                                           Logger& log)
    : l1_(l1),
      instance_id_(std::move(instance_id)),
      max_age_ms_(max_age_ms),
      degraded_max_age_ms_(degraded_max_age_ms),
      lag_seconds_(lag_seconds),
      log_(log) {
  l1_.SetMaxEntryAge(degraded_max_age_ms_);
}

void InvalidationListener::OnMessage(std::string_view payload) {
  auto m = DecodeInvalidation(payload);
  if (!m) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    log_.Warn("invalidation_message_rejected", {{"reason", "not a keycache v1 message"}});
    return;
  }
  // Our own changes were applied to L1 before they were published.
  if (m->source == instance_id_) return;
  switch (m->kind) {
    case InvalidationMessage::Kind::kKey:
      l1_.InvalidateKey(m->id);
      if (!m->owner.empty()) l1_.InvalidateOwner(m->owner);
      break;
    case InvalidationMessage::Kind::kOwner:
      l1_.InvalidateOwner(m->owner);
      break;
    case InvalidationMessage::Kind::kType:
      l1_.Clear(m->type);
      break;
    case InvalidationMessage::Kind::kAll:
      l1_.ClearAll();
      break;
  }
  received_.fetch_add(1, std::memory_order_relaxed);
  const std::int64_t lag_us = WallMicros() - m->sent_at_us;
  lag_seconds_.Observe(lag_us > 0 ? static_cast<double>(lag_us) / 1e6 : 0.0);
}

void InvalidationListener::OnSubscribed() {
  // Flush first, then let entries live long again: anything cached during the gap is gone.
  l1_.ClearAll();
  l1_.SetMaxEntryAge(max_age_ms_);
  up_.store(true, std::memory_order_release);
  log_.Info("invalidation_channel_up", {{"l1", "flushed; entries may live the full max age"}});
}

void InvalidationListener::OnDisconnected() {
  // Shorten first, then flush: whatever is cached after the flush dies young.
  up_.store(false, std::memory_order_release);
  l1_.SetMaxEntryAge(degraded_max_age_ms_);
  l1_.ClearAll();
  log_.Warn("invalidation_channel_down",
            {{"l1", "flushed; entries live at most " + std::to_string(degraded_max_age_ms_) +
                        " ms until the channel is back"}});
}

}  // namespace keycache
