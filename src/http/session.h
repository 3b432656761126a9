// Internal to http/: one HTTP/1.1 connection served by one coroutine on its worker's thread.
// Keep-alive and pipelining (requests answered in order, one at a time), header/body limits, a
// read deadline per request, graceful and forced close. Not thread-safe: every member function
// runs on the owning worker's thread.
//
// Lifetime: owned by shared_ptrs held by the session coroutine and its co_spawn completion
// handler, so the cancellation signal the completion handler is bound to outlives the coroutine.
// The worker keeps an intrusive (non-owning) list of live sessions to close them at Stop.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/intrusive/list_hook.hpp>

#include "http/http_types.h"
#include "http/router.h"

namespace keycache::http_detail {

class Worker;

class Session : public boost::intrusive::list_base_hook<>,
                public std::enable_shared_from_this<Session> {
 public:
  // Registers with `worker`; the caller has already counted the connection.
  Session(Worker& worker, boost::asio::ip::tcp::socket socket);
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
  enum class Phase { kIdle, kReading, kHandling, kWriting };

  static boost::asio::awaitable<void> Run(std::shared_ptr<Session> self);
  boost::asio::awaitable<void> Loop();
  boost::asio::awaitable<boost::beast::error_code> ReadRequest();
  boost::asio::awaitable<void> AnswerReadError(boost::beast::error_code ec, bool timed_out);
  boost::asio::awaitable<void> Linger();

  void Observe(boost::beast::http::verb method, int route, unsigned status, Clock::time_point start,
               std::string_view target, bool write_ok);
  void BeginReadDeadline();
  bool EndReadDeadline();  // true when the read was cut short by the deadline
  void ArmWatchdog(Clock::time_point at);
  void OnWatchdog(boost::system::error_code ec);
  void Close();
  void Detach();

  Worker& worker_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;  // reused across requests; holds pipelined bytes
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::asio::ip::address peer_;
  boost::asio::cancellation_signal cancel_;  // bound to the coroutine at co_spawn

  // Read deadline. beast's tcp_stream timeout closes the socket, which would make a 408
  // impossible; a watchdog timer that cancels (not closes) the socket keeps it writable. The
  // watchdog is re-armed lazily, so a request costs a clock read, not a timer operation.
  boost::asio::steady_timer watchdog_;
  Clock::time_point read_deadline_{};
  bool watchdog_armed_ = false;
  bool reading_ = false;
  bool read_timed_out_ = false;

  Phase phase_ = Phase::kIdle;
  bool closed_ = false;
};

}  // namespace keycache::http_detail
