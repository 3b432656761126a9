// RedisInvalidator: the InvalidationSink of the Redis tier. Called on the database thread that
// committed a change (after L1 was invalidated), it bumps the generations of the changed entries,
// drops them from Redis and publishes the change to the other instances, in one pipeline, before
// the lifecycle operation answers. When Redis is away (breaker open, error, timeout) the message
// is kept and replayed once Redis answers again, before the breaker closes; past kMaxPending the
// backlog collapses into one "clear all". Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "l2/l2_cache.h"
#include "service/invalidation.h"
#include "util/clock.h"
#include "util/log.h"

namespace keycache {

class RedisInvalidator final : public InvalidationSink {
 public:
  static constexpr std::size_t kMaxPending = 10'000;

  RedisInvalidator(L2Cache& l2, std::string instance_id, Logger& log)
      : l2_(l2), instance_id_(std::move(instance_id)), log_(log) {}

  void KeyChanged(KeyId id, std::string_view owner_id) override;
  void OwnerChanged(std::string_view owner_id) override;
  void TypeCleared(CacheType type) override;
  void AllCleared() override;

  // Sends the backlog even while the breaker is open (the prober calls it after a good PING).
  // True when the backlog is empty afterwards.
  bool ReplayPending();
  std::size_t pending() const;
  const std::string& instance_id() const { return instance_id_; }

 private:
  void Send(InvalidationMessage m);

  L2Cache& l2_;
  const std::string instance_id_;
  Logger& log_;
  mutable std::mutex mu_;  // guards pending_
  std::vector<InvalidationMessage> pending_;
};

}  // namespace keycache
