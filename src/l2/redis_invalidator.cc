#include "l2/redis_invalidator.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace keycache {

RedisInvalidator::RedisInvalidator(L2Cache& l2, const CircuitBreaker& breaker,
                                   std::string instance_id, boost::asio::any_io_executor executor,
                                   Logger& log)
    : l2_(l2),
      breaker_(breaker),
      instance_id_(std::move(instance_id)),
      executor_(std::move(executor)),
      log_(log) {}

std::string RedisInvalidator::WhyNot() const {
  const std::string reason = breaker_.reason();
  return "the shared cache (Redis) did not take the invalidation" +
         (reason.empty() ? std::string() : ": " + reason);
}

void RedisInvalidator::Announce(const CacheChange& change, PropagationDone done) {
  InvalidationMessage m;
  m.source = instance_id_;
  m.change = change;
  if (!breaker_.allows()) {
    // Nothing to wait for: Redis is known to be away.
    Defer(std::move(m));
    if (done) done(Propagation::Pending(WhyNot()));
    return;
  }
  boost::asio::co_spawn(executor_, Send(std::move(m), std::move(done)), boost::asio::detached);
}

boost::asio::awaitable<void> RedisInvalidator::Send(InvalidationMessage m, PropagationDone done) {
  m.sent_at_us = WallMicros();
  InvalidationMessage copy = m;
  Result<void> sent = co_await l2_.Fence(std::move(copy), /*even_if_open=*/false);
  if (sent) {
    if (done) done(Propagation::InForce());
    co_return;
  }
  Defer(std::move(m));
  if (done) done(Propagation::Pending(WhyNot()));
}

void RedisInvalidator::Defer(InvalidationMessage m) {
  std::lock_guard lock(mu_);
  if (pending_.size() >= kMaxPending) {
    InvalidationMessage all;
    all.source = instance_id_;
    all.change = CacheChange::All();
    pending_.assign(1, std::move(all));
    return;
  }
  if (pending_.empty()) {
    log_.Warn(
        "redis_invalidation_deferred",
        {{"reason", breaker_.reason()},
         {"effect", "the change is committed; it is replayed when Redis takes writes again"}});
  }
  pending_.push_back(std::move(m));
}

void RedisInvalidator::DeferClearAll() {
  InvalidationMessage all;
  all.source = instance_id_;
  all.change = CacheChange::All();
  std::lock_guard lock(mu_);
  pending_.push_back(std::move(all));
}

boost::asio::awaitable<bool> RedisInvalidator::ReplayPending() {
  std::vector<InvalidationMessage> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
  }
  std::size_t sent = 0;
  for (; sent < batch.size(); ++sent) {
    InvalidationMessage m = batch[sent];
    m.sent_at_us = WallMicros();
    Result<void> done = co_await l2_.Fence(std::move(m), /*even_if_open=*/true);
    if (!done) break;
  }
  if (sent == batch.size()) {
    if (!batch.empty())
      log_.Info("redis_invalidations_replayed", {{"count", std::to_string(sent)}});
    co_return true;
  }
  std::lock_guard lock(mu_);
  // Keep the unsent ones ahead of anything deferred meanwhile.
  pending_.insert(pending_.begin(), std::make_move_iterator(batch.begin() + sent),
                  std::make_move_iterator(batch.end()));
  co_return false;
}

std::size_t RedisInvalidator::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

}  // namespace keycache
