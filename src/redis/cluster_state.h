// Internal to redis/: the state a RedisClusterClient shares with its Execute coroutines in flight
// and its refresh loop — the slot map, one RedisClient pool per node, and the loop that keeps
// the map current (every refresh_interval, and at once, at most every refresh_min_gap, when a
// MOVED, a failed connection or a caller asks). A change in the set of primaries is reported
// (on_primaries_changed) before the new map can send anything to a new primary.
// Thread-safe; the refresh loop runs on the last executor (the control executor).
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "redis/cluster_slots.h"
#include "redis/redis_client.h"
#include "redis/redis_cluster_client.h"
#include "redis/redis_endpoint.h"
#include "util/log.h"

namespace keycache::redis_detail {

class ClusterState : public std::enable_shared_from_this<ClusterState> {
 public:
  using Clock = std::chrono::steady_clock;
  struct Pool {
    std::shared_ptr<RedisClient> client;
    Clock::time_point created;
  };

  // Throws std::invalid_argument without executors.
  ClusterState(std::vector<boost::asio::any_io_executor> executors, RedisClusterOptions options,
               Logger& log);

  const RedisClusterOptions& options() const { return options_; }

  void Start();
  void Stop();
  void ReleaseIo();
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  std::shared_ptr<const SlotMap> map() const {
    std::lock_guard lock(mu_);
    return map_;
  }

  // The pool of `node`, created (and started) on first use.
  Pool PoolFor(const RedisEndpoint& node) {
    std::lock_guard lock(mu_);
    return PoolForLocked(node);
  }

  // A MOVED: the slot is served by `node` now. A node that was no primary before is a
  // promotion (or a new primary): reported now, before the redirected command is sent, so that
  // nothing sent through the new primary is trusted before the change is known.
  void Moved(std::uint16_t slot, const RedisEndpoint& node);

  void RequestRefresh();

  std::vector<RedisEndpoint> Nodes() const;
  std::vector<std::shared_ptr<RedisClient>> PrimaryClients() const;
  bool Connected() const;
  std::size_t ConnectedCount() const;
  std::size_t PoolSize() const;
  std::string LastError() const;
  bool AuthFailed() const;
  std::uint64_t refreshes() const { return refreshes_.load(std::memory_order_relaxed); }

 private:
  Pool PoolForLocked(const RedisEndpoint& node);
  boost::asio::awaitable<void> RefreshLoop();
  // Reads the map from the first node that answers: the primaries' pools first (no new
  // connection), then one-shot connections to every node we know of and to the seeds.
  boost::asio::awaitable<bool> RefreshOnce();
  void SetError(std::string text, bool auth);
  // Installs a map read from a node; false if it serves no slot at all (a node not yet part of
  // the cluster).
  bool Apply(SlotMap fresh);

  const std::vector<boost::asio::any_io_executor> executors_;
  const RedisClusterOptions options_;
  Logger& log_;
  const boost::asio::any_io_executor control_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::string tls_error_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> refresh_requested_{true};
  std::atomic<std::uint64_t> refreshes_{0};

  mutable std::mutex mu_;  // guards what follows
  std::condition_variable done_cv_;
  bool started_ = false;
  bool refresh_running_ = false;
  std::shared_ptr<const SlotMap> map_;
  std::map<RedisEndpoint, Pool> pools_;  // every node we have sent to; stopped in Stop()
  std::string last_error_;
  bool auth_failed_ = false;

  // Control executor only.
  boost::asio::steady_timer refresh_timer_;
  std::string last_logged_;
};

}  // namespace keycache::redis_detail
