// RedisInvalidator: the InvalidationSink of the Redis tier. For each committed change it sends the
// fence (L2Cache::Fence: bump the generations, drop the entries, publish the change) from the
// tier's executor, never blocking the announcing database thread, and reports whether Redis took
// all of it. If it did not (breaker open, a transport failure, an error reply such as READONLY or
// OOM), the change is reported as not in force (the operation answers 503: other instances may
// still serve the old state) and kept; the heartbeat replays the backlog once Redis answers again,
// before the breaker closes. Past kMaxPending the backlog collapses into one "clear all".
// Thread-safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/invalidation_sink.h"
#include "l2/circuit_breaker.h"
#include "l2/l2_cache.h"
#include "util/log.h"

namespace keycache {

class RedisInvalidator final : public InvalidationSink {
 public:
  static constexpr std::size_t kMaxPending = 10'000;

  // `executor`: where fences are sent from (the tier's thread). References must outlive this.
  RedisInvalidator(L2Cache& l2, const CircuitBreaker& breaker, std::string instance_id,
                   boost::asio::any_io_executor executor, Logger& log);

  void Announce(const CacheChange& change, PropagationDone done) override;

  // Sends the backlog, in order, through an open breaker (the heartbeat calls it after a good
  // heartbeat). True when the backlog is empty afterwards. On the tier's executor.
  boost::asio::awaitable<bool> ReplayPending();
  std::size_t pending() const;
  // Keeps a "clear all" for replay, whatever else is pending: after a failover (Sentinel), the new
  // primary may hold entries whose invalidation it never received. The heartbeat sends it before
  // the breaker closes. Any thread.
  void DeferClearAll();
  const std::string& instance_id() const { return instance_id_; }

 private:
  boost::asio::awaitable<void> Send(InvalidationMessage m, PropagationDone done);
  void Defer(InvalidationMessage m);
  std::string WhyNot() const;

  L2Cache& l2_;
  const CircuitBreaker& breaker_;
  const std::string instance_id_;
  const boost::asio::any_io_executor executor_;
  Logger& log_;
  mutable std::mutex mu_;  // guards pending_
  std::vector<InvalidationMessage> pending_;
};

}  // namespace keycache
