#include "service/redis_invalidator.h"

#include <chrono>

namespace keycache {

void RedisInvalidator::KeyChanged(KeyId id, std::string_view owner_id) {
  InvalidationMessage m;
  m.kind = InvalidationMessage::Kind::kKey;
  m.id = id;
  m.owner = owner_id;
  Send(std::move(m));
}

void RedisInvalidator::OwnerChanged(std::string_view owner_id) {
  InvalidationMessage m;
  m.kind = InvalidationMessage::Kind::kOwner;
  m.owner = owner_id;
  Send(std::move(m));
}

void RedisInvalidator::TypeCleared(CacheType type) {
  InvalidationMessage m;
  m.kind = InvalidationMessage::Kind::kType;
  m.type = type;
  Send(std::move(m));
}

void RedisInvalidator::AllCleared() {
  InvalidationMessage m;
  m.kind = InvalidationMessage::Kind::kAll;
  Send(std::move(m));
}

void RedisInvalidator::Send(InvalidationMessage m) {
  m.source = instance_id_;
  m.sent_at_us = WallMicros();
  if (auto sent = l2_.InvalidateSync(m); sent) return;
  std::lock_guard lock(mu_);
  if (pending_.size() >= kMaxPending) {
    InvalidationMessage all;
    all.kind = InvalidationMessage::Kind::kAll;
    all.source = instance_id_;
    pending_.assign(1, std::move(all));
    return;
  }
  if (pending_.empty()) {
    log_.Warn("redis_invalidation_deferred",
              {{"reason", "Redis unavailable; kept for replay when it returns"}});
  }
  pending_.push_back(std::move(m));
}

bool RedisInvalidator::ReplayPending() {
  std::vector<InvalidationMessage> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
  }
  std::size_t sent = 0;
  for (; sent < batch.size(); ++sent) {
    batch[sent].sent_at_us = WallMicros();
    if (!l2_.InvalidateSync(batch[sent], /*even_if_open=*/true)) break;
  }
  if (sent == batch.size()) {
    if (!batch.empty())
      log_.Info("redis_invalidations_replayed", {{"count", std::to_string(sent)}});
    return true;
  }
  std::lock_guard lock(mu_);
  // Keep the unsent ones ahead of anything that failed meanwhile.
  pending_.insert(pending_.begin(), std::make_move_iterator(batch.begin() + sent),
                  std::make_move_iterator(batch.end()));
  return false;
}

std::size_t RedisInvalidator::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

}  // namespace keycache
