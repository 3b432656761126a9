// SentinelLocator: the RedisEndpointSource of Sentinel mode. It asks the Sentinels in turn
// (SENTINEL GET-MASTER-ADDR-BY-NAME) until one answers, re-asks every poll interval and soon after
// a connection reports that the primary failed or is a replica (ROLE), and follows failovers as
// they happen through a subscription to `+switch-master` on every Sentinel (one RedisSubscriber
// each, reconnecting on its own; one reachable Sentinel is enough). Every change of primary bumps
// the endpoint generation and runs the listeners (RedisClient, RedisSubscriber, the tier).
// Thread-safe; its questions and subscriptions run on the executor given to it, which must be
// single-threaded. Start() once; Stop() before the executor stops running.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "redis/redis_endpoint_source.h"
#include "redis/redis_options.h"
#include "redis/redis_subscriber.h"
#include "util/log.h"

namespace keycache {

struct SentinelOptions {
  std::vector<std::pair<std::string, std::uint16_t>> sentinels;  // host, port
  std::string master_name = "mymaster";
  // How to talk to the Sentinels: username/password (the Sentinels' own), TLS, timeouts,
  // backoff. host/port, db and endpoint_source are ignored.
  RedisOptions connection;
  std::chrono::milliseconds poll_interval{1'000};  // re-ask even when nothing is reported
};

class SentinelLocator final : public RedisEndpointSource,
                              public std::enable_shared_from_this<SentinelLocator> {
 public:
  // `log` must outlive the locator.
  SentinelLocator(boost::asio::any_io_executor executor, SentinelOptions options, Logger& log);
  ~SentinelLocator() override;  // Stop()s
  SentinelLocator(const SentinelLocator&) = delete;
  SentinelLocator& operator=(const SentinelLocator&) = delete;

  void Start();  // never blocks; idempotent
  // Ends the polling loop and the subscriptions; blocks up to ~2 s. Idempotent. Not from the
  // executor's thread.
  void Stop();
  // After Stop(), once no thread runs the executor: destroys the timer and the subscriptions
  // now, since the locator itself may outlive the executor's io_context (the pool's connections
  // hold it through their options, and frames queued elsewhere may hold them).
  void ReleaseIo();

  // RedisEndpointSource.
  std::optional<PrimaryEndpoint> Current() const override;
  std::uint64_t generation() const override;
  void ReportFailure(const PrimaryEndpoint& endpoint, bool wrong_role) override;
  int AddListener(std::function<void()> on_change) override;
  void RemoveListener(int id) override;

  // Changes of primary after the first one found (failovers followed).
  std::uint64_t failovers() const { return failovers_.load(std::memory_order_relaxed); }
  // Sentinels whose +switch-master subscription is confirmed now.
  std::size_t subscribed_sentinels() const;
  std::string last_error() const;
  // The last round of questions failed because every Sentinel refused our credentials.
  bool auth_failed() const { return auth_failed_.load(std::memory_order_acquire); }

 private:
  boost::asio::awaitable<void> Run();
  boost::asio::awaitable<std::optional<std::pair<std::string, std::uint16_t>>> Ask();
  void Adopt(const std::string& host, std::uint16_t port, std::string_view why);
  void OnSwitchMaster(std::string_view payload);
  void Wake();  // any thread: ask again soon

  const boost::asio::any_io_executor executor_;
  const SentinelOptions options_;
  Logger& log_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::string tls_error_;

  mutable std::mutex mu_;  // guards current_, last_error_, next_sentinel_
  std::optional<PrimaryEndpoint> current_;
  std::string last_error_;
  std::size_t next_sentinel_ = 0;  // where the next round of questions starts
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::uint64_t> failovers_{0};
  std::atomic<bool> auth_failed_{false};

  std::mutex listeners_mu_;  // guards listeners_, next_listener_; held while they run
  std::map<int, std::function<void()>> listeners_;
  int next_listener_ = 0;

  mutable std::mutex subscriptions_mu_;  // guards subscriptions_ (Start, ReleaseIo, readers)
  std::vector<std::unique_ptr<RedisSubscriber>> subscriptions_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> wake_pending_{false};
  std::mutex run_mu_;  // guards running_
  std::condition_variable run_cv_;
  bool running_ = false;
  std::optional<boost::asio::steady_timer> timer_;  // executor-only; engaged until ReleaseIo
};

}  // namespace keycache
