// PgNotifyChannel: one PostgreSQL channel used as a message bus (LISTEN/NOTIFY), on a dedicated
// connection of its own (not one of PgStore's pool) served by a thread of its own. The thread
// connects (bounded by the timeout), LISTENs, then waits on the socket in bounded slices: every
// notification on the channel goes to `on_message`, every slice ends with `on_tick`, and payloads
// queued by Notify() are sent on the same connection with `SELECT pg_notify(channel, payload)`
// (each its own transaction: delivered to every listener iff it committed). When the connection
// is lost (the server restarted, an administrator ended the session, a statement ran past its
// deadline) it reports `on_lost`, fails whatever is queued, and reconnects by itself with a
// backoff of 100 ms doubling to 2 s. PostgreSQL delivers the notifications of committed
// transactions in commit order, which is what makes a heartbeat heard back a proof that every
// earlier message arrived (l2/notify_coherence.h).
// Thread-safe: Notify and the accessors from any thread; handlers run on the channel's thread.
// Start once; Stop (or the destructor) joins the thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "util/log.h"

namespace keycache {

class PgConnection;

struct PgNotifyOptions {
  std::string channel = "keycache_invalidation";  // a plain identifier: [a-z_][a-z0-9_]*
  std::chrono::milliseconds timeout{5000};        // connecting, LISTEN, each NOTIFY
  std::chrono::milliseconds tick{50};             // the longest wait between two on_tick calls
  std::string application_name = "keycached-listen";
};

struct PgNotifyHandlers {
  std::function<void(std::string_view payload)> on_message;
  std::function<void()> on_listening;  // LISTEN took effect (after each (re)connection)
  std::function<void()> on_lost;       // the listening connection was lost
  std::function<void()> on_tick;
};

class PgNotifyChannel {
 public:
  // true: the NOTIFY committed; false: it was not sent or may not have been (never retried here).
  using Sent = std::function<void(bool)>;

  // `url` as PgStore::Open takes it (never logged). Handlers must outlive the channel.
  PgNotifyChannel(std::string url, PgNotifyOptions options, PgNotifyHandlers handlers, Logger& log);
  ~PgNotifyChannel();
  PgNotifyChannel(const PgNotifyChannel&) = delete;
  PgNotifyChannel& operator=(const PgNotifyChannel&) = delete;

  void Start();
  void Stop();  // idempotent; queued payloads are failed

  // Queues `payload` (at most 7999 bytes: PostgreSQL's limit) for the channel; `done` runs once,
  // on the channel's thread (or on this one when the channel is not listening or the payload is
  // too long).
  void Notify(std::string payload, Sent done);

  bool listening() const { return listening_.load(std::memory_order_acquire); }
  // The server process of the listening session (0 while not listening).
  int backend_pid() const { return backend_pid_.load(std::memory_order_acquire); }
  std::uint64_t losses() const { return losses_.load(std::memory_order_relaxed); }

 private:
  struct Outgoing {
    std::string payload;
    Sent done;
  };

  void Run();
  bool Connect();
  void Serve();
  void SendQueued();
  void Lost();
  void FailQueued();
  void Wake();
  void SleepFor(std::chrono::milliseconds pause);

  const std::string url_;
  const PgNotifyOptions options_;
  const PgNotifyHandlers handlers_;
  Logger& log_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> listening_{false};
  std::atomic<int> backend_pid_{0};
  std::atomic<std::uint64_t> losses_{0};
  int wake_[2] = {-1, -1};  // a pipe: Notify and Stop interrupt the wait on the socket

  std::mutex mu_;  // guards queue_
  std::condition_variable cv_;
  std::deque<Outgoing> queue_;

  std::unique_ptr<PgConnection> conn_;  // the channel thread's only
  std::thread thread_;
};

}  // namespace keycache
