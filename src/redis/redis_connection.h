// Internal: one pipelined connection of a RedisClient pool, and the state its connections
// share. A RedisConnection's state is touched only on its executor's thread; up() and the
// ClientShared counters are atomic, ClientShared's error text is guarded by its mutex.
#pragma once

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "redis/redis_options.h"
#include "redis/redis_stream.h"
#include "redis/resp_parser.h"
#include "redis/resp_reply.h"
#include "util/log.h"

namespace keycache::redis_detail {

enum class CallStatus : std::uint8_t {
  kOk,       // all replies are in
  kDropped,  // the connection went away first; the caller may retry elsewhere
  kTimeout,  // the call's deadline passed while the server owed us replies
  kStopped,  // the client is stopping
};

// One Execute in flight. It lives in the caller's coroutine frame; a connection holds a raw
// pointer to it from Submit until it completes the handler, and never touches it afterwards.
struct Call {
  const std::string* payload = nullptr;
  std::size_t expected = 0;                           // number of replies
  std::chrono::steady_clock::time_point deadline;     // absolute, across retries
  std::chrono::steady_clock::time_point enqueued_at;  // on the current connection
  std::vector<RedisReply> replies;
  boost::asio::any_io_executor resume;  // where the handler runs; work-tracked when remote
  // optional + emplace: Boost 1.81's any_completion_handler move assignment recurses forever.
  std::optional<boost::asio::any_completion_handler<void(CallStatus)>> handler;
};

// Destroys a call's handler without running it, which frees the coroutine waiting for it (the
// handler owns that coroutine's stack, and with it the frame holding `call`: not touched after).
// For shutdown, when the call can no longer be completed on its executor.
void Abandon(Call& call);

// What every connection of one client shares; outlives the client while loops still run.
struct ClientShared {
  ClientShared(RedisOptions o, Logger& l);

  void RecordFailure(const OpenFailure& failure);
  void RecordSuccess();
  void LoopStarted();
  void LoopEnded();
  // Waits until no loop runs any more, at most `limit`.
  bool WaitLoopsEnded(std::chrono::milliseconds limit);

  const RedisOptions options;
  Logger& log;
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain TCP
  std::string tls_error;                           // TLS setup failed: never connects

  std::atomic<std::size_t> connected{0};

  mutable std::mutex mu;
  std::condition_variable loops_cv;
  int loops = 0;             // guarded by mu
  std::string last_error;    // guarded by mu
  bool auth_failed = false;  // guarded by mu
};

class RedisConnection : public std::enable_shared_from_this<RedisConnection> {
 public:
  RedisConnection(boost::asio::any_io_executor executor, std::shared_ptr<ClientShared> shared,
                  int index);

  const boost::asio::any_io_executor& executor() const { return executor_; }
  bool up() const { return up_.load(std::memory_order_acquire); }

  void Start();  // any thread; spawns the connect loop on the executor
  void Stop();   // any thread; posts the shutdown to the executor
  // Any thread: drops the session if it was opened to a primary the endpoint source no longer
  // names (Sentinel failover); the loop then reconnects to the current one.
  void CheckEndpoint();

  // On the executor's thread: queues `call` for the writer, or completes it at once (kDropped,
  // kStopped) when the connection is not up.
  void Submit(Call& call);

  // Destroys the socket and timers now, so that this object may outlive its io_context (a
  // coroutine frame queued on another executor can hold the pool until that executor's
  // io_context is destroyed). Only after Stop(), when no thread runs the executor any more.
  void ReleaseIo();

 private:
  boost::asio::awaitable<void> Run();
  boost::asio::awaitable<void> ReadLoop();
  boost::asio::awaitable<void> WriteLoop();
  boost::asio::awaitable<void> DeadlineLoop();
  void Fail(std::string_view why, bool timed_out);
  void Shutdown();
  void LogFailure(const std::string& message);

  const boost::asio::any_io_executor executor_;
  const std::shared_ptr<ClientShared> shared_;
  const int index_;
  std::atomic<bool> up_{false};

  // Below: the executor's thread only.
  std::unique_ptr<RedisStream> stream_;
  std::unique_ptr<RespParser> parser_;
  bool alive_ = false;  // a session (the three loops) is running and has not failed
  bool stopping_ = false;
  std::uint64_t session_generation_ = 0;  // the endpoint generation the session was opened under
  std::vector<Call*> queue_;              // submitted, not yet written
  std::deque<Call*> inflight_;            // written, replies outstanding, FIFO
  std::string write_buf_;
  std::vector<char> read_buf_;
  // Engaged from construction until ReleaseIo().
  std::optional<boost::asio::steady_timer> wake_;      // the writer waits here for work
  std::optional<boost::asio::steady_timer> deadline_;  // the oldest call's command_timeout
  std::optional<boost::asio::steady_timer> backoff_;   // between connection attempts
  std::string last_logged_;
};

// Completes `call` with `status`: runs its handler on call.resume. Never touches `call` after.
void Complete(Call& call, CallStatus status);

// A Submit posted to another executor. If that executor's io_context is destroyed before it
// runs, the call is abandoned instead of leaking the coroutine that waits for it.
class PostedSubmit {
 public:
  PostedSubmit(std::shared_ptr<RedisConnection> conn, Call* call)
      : conn_(std::move(conn)), call_(call) {}
  PostedSubmit(PostedSubmit&& o) noexcept : conn_(std::move(o.conn_)), call_(o.call_) {
    o.call_ = nullptr;
  }
  PostedSubmit(const PostedSubmit&) = delete;
  PostedSubmit& operator=(const PostedSubmit&) = delete;
  PostedSubmit& operator=(PostedSubmit&&) = delete;
  ~PostedSubmit() {
    if (call_) Abandon(*call_);
  }
  void operator()() {
    Call* call = std::exchange(call_, nullptr);
    conn_->Submit(*call);
  }

 private:
  std::shared_ptr<RedisConnection> conn_;
  Call* call_;
};

// Hands `call` to `conn` (directly when the caller runs on conn's executor, else posted there)
// and completes with its CallStatus on `call.resume`.
template <class Token>
auto AsyncSubmit(const std::shared_ptr<RedisConnection>& conn, Call& call, bool local,
                 Token&& token) {
  return boost::asio::async_initiate<Token, void(CallStatus)>(
      [&conn, &call, local](auto handler) {
        call.handler.emplace(std::move(handler));
        if (local) {
          conn->Submit(call);
          return;
        }
        call.resume =
            boost::asio::prefer(call.resume, boost::asio::execution::outstanding_work.tracked);
        boost::asio::post(conn->executor(), PostedSubmit(conn, &call));
      },
      token);
}

}  // namespace keycache::redis_detail
