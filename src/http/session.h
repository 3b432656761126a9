// Internal to http/: one HTTP/1.1 connection served by one coroutine on its worker's thread.
// Keep-alive and pipelining (requests answered in order, one at a time), header/body limits, a
// deadline per phase (idle, reading, writing), graceful and forced close. Not thread-safe: every
// member function runs on the owning worker's thread.
//
// Lifetime: owned by shared_ptrs held by the session coroutine and its co_spawn completion
// handler, so the cancellation signal the completion handler is bound to outlives the coroutine.
// The worker keeps an intrusive (non-owning) list of live sessions to close them at Stop.
//
// Cost: the socket, the timer and the session coroutine use io_context::executor_type, not the
// type-erased any_io_executor; requests already buffered are parsed without an asynchronous
// operation; responses are rendered into one reused buffer and sent with one write.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/intrusive/list_hook.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/http_types.h"
#include "http/router.h"

namespace keycache::http_detail {

class Worker;

class Session : public boost::intrusive::list_base_hook<>,
                public std::enable_shared_from_this<Session> {
 public:
  using IoExecutor = boost::asio::io_context::executor_type;
  using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, IoExecutor>;

  // Registers with `worker`; the caller has already counted the connection.
  Session(Worker& worker, Socket socket);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Spawns the session coroutine on the socket's executor.
  static void Start(std::shared_ptr<Session> session);

  // Stop requested: an idle connection (waiting for the first byte of a request) is closed now;
  // a busy one finishes its current request and then closes.
  void OnStop();
  // Grace expired: close the socket and cancel whatever the coroutine (or the handler it is
  // awaiting) is waiting for.
  void ForceClose();

 private:
  using Clock = std::chrono::steady_clock;
  using Timer =
      boost::asio::basic_waitable_timer<Clock, boost::asio::wait_traits<Clock>, IoExecutor>;
  template <class T>
  using Awaitable = boost::asio::awaitable<T, IoExecutor>;
  enum class Phase { kIdle, kReading, kHandling, kWriting };
  // What the watchdog does when the current deadline passes.
  enum class OnDeadline { kNothing, kClose, kCancelRead };

  static Awaitable<void> Run(std::shared_ptr<Session> self);
  Awaitable<void> Loop();
  bool ParseWhole(boost::beast::error_code& ec);
  Awaitable<boost::beast::error_code> ReadRequest();
  boost::beast::error_code ParseBuffered(bool header_only);
  Awaitable<void> AnswerReadError(boost::beast::error_code ec, bool timed_out);
  Awaitable<void> Linger();

  void Observe(boost::beast::http::verb method, int route, unsigned status, Clock::time_point start,
               Clock::time_point end, std::string_view target, bool write_ok);
  void SetDeadline(Clock::time_point now, Clock::duration after, OnDeadline action);
  void ClearDeadline() { on_deadline_ = OnDeadline::kNothing; }
  void ArmWatchdog(Clock::time_point at);
  void OnWatchdog(boost::system::error_code ec);
  void Close();
  void Detach();

  Worker& worker_;
  Socket socket_;
  boost::beast::flat_buffer buffer_;  // reused across requests; holds pipelined bytes
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::asio::ip::address peer_;
  std::string peer_text_;  // peer_ formatted once: handlers ask for it on every request
  std::string out_;        // the response being written; its capacity is reused
  boost::asio::cancellation_signal cancel_;  // bound to the coroutine at co_spawn

  // One timer bounds every phase. It cancels (not closes) the socket when a request is being
  // read, so a 408 can still be written; otherwise it closes. It is re-armed lazily, so a
  // request costs clock reads, not timer operations.
  Timer watchdog_;
  Clock::time_point deadline_{};
  Clock::time_point armed_for_{};
  OnDeadline on_deadline_ = OnDeadline::kNothing;
  bool watchdog_armed_ = false;
  bool read_timed_out_ = false;

  Phase phase_ = Phase::kIdle;
  bool closed_ = false;
};

}  // namespace keycache::http_detail
