// RedisClient: a pool of pipelined Redis connections spread over the caller's I/O executors,
// each with its own background connect/reconnect loop. Every public member is thread-safe.
// The executors must each be single-threaded (an io_context run by one thread), as keycache's
// I/O executors are: a connection's state is touched only on its executor's thread.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "redis/redis_commands.h"
#include "redis/redis_options.h"
#include "redis/redis_request.h"
#include "redis/resp_reply.h"
#include "util/error.h"
#include "util/log.h"

namespace keycache {

namespace redis_detail {
class Pool;
}  // namespace redis_detail

class RedisClient final : public RedisCommands {
 public:
  // Connections are spread over `executors` round-robin (at least one per executor when
  // pool_size allows). `log` must outlive the client.
  RedisClient(std::vector<boost::asio::any_io_executor> executors, RedisOptions options,
              Logger& log);
  ~RedisClient() override;  // Stop()s
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Starts every connection's connect/reconnect loop in the background; never blocks.
  // Idempotent; a stopped client does not start again.
  void Start();
  // Closes everything; pending calls fail with Errc::kUnavailable. Idempotent. Blocks until the
  // loops have finished or ~1 s has passed (e.g. when the executors no longer run). Must not be
  // called from one of the executors' threads (it would wait out the full second).
  void Stop();

  // Sends all commands of `request` pipelined on one connection (a connected one on the
  // caller's own executor if any, else any connected one) and returns the replies in order
  // (Redis error replies are values of type kError, not failures). Fails fast with
  // Errc::kUnavailable when no connection is up, Errc::kTimeout after command_timeout. If the
  // connection drops before the replies arrive, retries on another connection up to
  // max_retries times. Resumes on the caller's executor. An empty request returns {} at once.
  boost::asio::awaitable<Result<std::vector<RedisReply>>> Execute(RedisRequest request) override;

  // The same, for threads that are not I/O threads: blocks up to command_timeout (+ 1 s).
  // Never call it from one of the executors' threads.
  Result<std::vector<RedisReply>> ExecuteSync(RedisRequest request);

  // After Stop(), once no thread runs any of the executors: destroys every connection's socket
  // and timers, so that coroutine frames still queued on those executors (which may keep the
  // pool alive until their io_context is destroyed) never touch an io_context already gone.
  void ReleaseIo();

  bool connected() const override;  // at least one connection is up
  std::size_t connected_count() const override;

  // Why the last connection attempt failed, for humans; "" if none or if the last attempt
  // succeeded. "Redis authentication failed: <server message>", "Redis TLS handshake failed:
  // <reason>", "cannot connect to Redis at host:port: <reason>", ...
  std::string last_error() const override;
  bool auth_failed() const override;  // the last failure was an authentication refusal

  std::size_t pool_size() const override;
  const RedisOptions& options() const;
  // The endpoint source's generation (Sentinel mode), else 0.
  std::uint64_t primary_generation() const override {
    return options().endpoint_source ? options().endpoint_source->generation() : 0;
  }

 private:
  // Shared with the Execute coroutines in flight, so that one abandoned by ExecuteSync's
  // timeout never touches a destroyed client.
  std::shared_ptr<redis_detail::Pool> pool_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace keycache
