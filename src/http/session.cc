#include "http/session.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <limits>
#include <tuple>
#include <utility>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/write.hpp>

#include "http/http_json.h"
#include "http/worker.h"

namespace keycache::http_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using boost::asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 8192;
// After an error response, keep reading (and discarding) for a bounded time and size so the
// client receives the response instead of a reset caused by its unread request bytes.
constexpr std::chrono::milliseconds kMaxLinger{2000};
constexpr std::size_t kMaxLingerBytes = 1 << 20;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

bool WantsClose(const Response& res) {
  auto it = res.find(beast_http::field::connection);
  return it != res.end() && beast_http::token_list(it->value()).exists("close");
}

const boost::system::error_category& HttpParseCategory() {
  return beast_http::make_error_code(beast_http::error::bad_target).category();
}

std::string ExceptionText(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "non-standard exception";
  }
}

}  // namespace

Session::Session(Worker& worker, tcp::socket socket)
    : worker_(worker), stream_(std::move(socket)), watchdog_(stream_.get_executor()) {
  boost::system::error_code ec;
  tcp::endpoint remote = stream_.socket().remote_endpoint(ec);
  if (!ec) peer_ = remote.address();
  worker_.Register(*this);
}

Session::~Session() { Detach(); }

void Session::Start(std::shared_ptr<Session> session) {
  auto executor = session->stream_.get_executor();
  auto slot = session->cancel_.slot();
  Logger& logger = session->worker_.shared().logger;
  auto run = Run(session);
  // The completion handler co-owns the session: the signal behind `slot` must outlive the
  // coroutine it can cancel.
  asio::co_spawn(executor, std::move(run),
                 asio::bind_cancellation_slot(
                     slot, [keep = std::move(session), &logger](std::exception_ptr failure) {
                       if (failure) {
                         logger.Error("http_session_failed", {{"error", ExceptionText(failure)}});
                       }
                     }));
}

asio::awaitable<void> Session::Run(std::shared_ptr<Session> self) {
  std::exception_ptr failure;
  try {
    co_await self->Loop();
  } catch (...) {
    failure = std::current_exception();
  }
  // After ForceClose every co_await throws operation_aborted: expected, not worth a log line.
  if (failure && !self->closed_) {
    self->worker_.shared().logger.Error("http_session_failed", {{"error", ExceptionText(failure)}});
  }
  self->Close();
  self->Detach();
}

asio::awaitable<void> Session::Loop() {
  const HttpServerOptions& options = worker_.shared().options;
  const Router& router = worker_.shared().router;
  boost::system::error_code ignored;
  stream_.socket().set_option(tcp::no_delay(true), ignored);

  while (!closed_) {
    if (buffer_.size() == 0) {
      // Idle keep-alive: a timeout or a Stop here just closes, there is nobody to answer.
      phase_ = Phase::kIdle;
      if (worker_.stopping()) break;
      stream_.expires_after(options.read_timeout);
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kReadChunk), kTuple);
      if (ec) break;
      buffer_.commit(n);
    }

    phase_ = Phase::kReading;
    beast::error_code read_ec = co_await ReadRequest();
    const bool timed_out = EndReadDeadline();
    if (read_ec) {
      co_await AnswerReadError(read_ec, timed_out);
      break;
    }

    phase_ = Phase::kHandling;
    const Clock::time_point start = Clock::now();
    Request& req = parser_->get();
    const std::string_view target = req.target();
    const std::size_t question = target.find('?');
    const std::string_view path = target.substr(0, question);
    const std::string_view query =
        question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
    Router::ParamArray params;
    Router::Match match = router.Find(req.method(), path, params);

    Response res;
    if (match.kind == Router::MatchKind::kFound) {
      RequestContext ctx{req,
                         peer_,
                         path,
                         query,
                         {params.data(), match.param_count},
                         router.param_names(match.route)};
      std::exception_ptr failure;
      if (const auto* sync = std::get_if<SyncHandler>(match.handler)) {
        try {
          res = (*sync)(ctx);
        } catch (...) {
          failure = std::current_exception();
        }
      } else {
        try {
          res = co_await std::get<Handler>(*match.handler)(ctx);
        } catch (...) {
          failure = std::current_exception();
        }
      }
      if (failure) {
        if (closed_) break;  // cancelled by ForceClose
        worker_.shared().logger.Error(
            "http_handler_failed",
            {{"route", router.pattern(match.route)}, {"error", ExceptionText(failure)}});
        res = JsonError(500, "internal", "internal server error");
      }
    } else if (match.kind == Router::MatchKind::kNotFound) {
      res = JsonError(404, "not_found", "no route for this path");
    } else {
      res = JsonError(405, "method_not_allowed", "method not allowed for this path");
      res.set(beast_http::field::allow, match.allow);
    }
    if (closed_) break;

    // Normalise whatever the handler built: HTTP version, keep-alive, Content-Length.
    const bool keep_alive = req.keep_alive() && !WantsClose(res) && !worker_.stopping();
    res.version(req.version());
    res.keep_alive(keep_alive);
    res.prepare_payload();
    if (req.method() == beast_http::verb::head) {
      // The headers a GET would get, without the body the serializer would otherwise send.
      const std::size_t length = res.body().size();
      res.body().clear();
      res.content_length(length);
    }

    phase_ = Phase::kWriting;
    stream_.expires_after(options.read_timeout);
    auto [write_ec, written] = co_await beast_http::async_write(stream_, res, kTuple);
    Observe(req.method(), match.route, res.result_int(), start, target, !write_ec);
    if (write_ec || !keep_alive) break;
  }
  Close();
}

asio::awaitable<beast::error_code> Session::ReadRequest() {
  const HttpServerOptions& options = worker_.shared().options;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser_->body_limit(options.max_body_bytes);

  stream_.expires_never();  // the watchdog bounds this read, see BeginReadDeadline
  BeginReadDeadline();
  auto [ec, n] = co_await beast_http::async_read_header(stream_, buffer_, *parser_, kTuple);
  if (!ec && !parser_->is_done()) {
    if (beast::iequals(parser_->get()[beast_http::field::expect], "100-continue")) {
      std::tie(ec, n) = co_await asio::async_write(stream_, asio::buffer(kContinue), kTuple);
    }
    if (!ec) std::tie(ec, n) = co_await beast_http::async_read(stream_, buffer_, *parser_, kTuple);
  }
  co_return ec;
}

asio::awaitable<void> Session::AnswerReadError(beast::error_code ec, bool timed_out) {
  if (closed_) co_return;
  unsigned status = 400;
  std::string_view error = "bad_request";
  std::string_view message = "malformed HTTP request";
  if (timed_out) {
    status = 408;
    error = "request_timeout";
    message = "request not received in time";
  } else if (ec == beast_http::error::body_limit) {
    status = 413;
    error = "payload_too_large";
    message = "request body is too large";
  } else if (ec == beast_http::error::header_limit) {
    status = 431;
    error = "header_too_large";
    message = "request header is too large";
  } else if (ec == beast_http::error::end_of_stream || ec == beast_http::error::partial_message ||
             ec.category() != HttpParseCategory()) {
    co_return;  // the peer went away or the socket failed: nobody to answer
  }

  const Clock::time_point start = Clock::now();
  const bool have_header = parser_ && parser_->is_header_done();
  const beast_http::verb method = have_header ? parser_->get().method() : beast_http::verb::unknown;
  const std::string_view target =
      have_header ? std::string_view(parser_->get().target()) : std::string_view();
  Response res = JsonError(status, error, message, 11, false);
  stream_.expires_after(worker_.shared().options.read_timeout);
  auto [write_ec, written] = co_await beast_http::async_write(stream_, res, kTuple);
  Observe(method, Router::kNoRoute, status, start, target, !write_ec);
  if (!write_ec) co_await Linger();
}

asio::awaitable<void> Session::Linger() {
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(std::min(worker_.shared().options.read_timeout, kMaxLinger));
  std::size_t drained = 0;
  while (!closed_ && drained < kMaxLingerBytes) {
    buffer_.clear();
    auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kReadChunk), kTuple);
    if (ec) break;
    drained += n;
  }
}

void Session::Observe(beast_http::verb method, int route, unsigned status, Clock::time_point start,
                      std::string_view target, bool write_ok) {
  const RequestObserver& observer = worker_.shared().observer;
  if (!observer) return;
  RequestObservation observation{
      method, route,   worker_.shared().router.pattern(route), status, Clock::now() - start, peer_,
      target, write_ok};
  try {
    observer(observation);
  } catch (const std::exception& e) {
    worker_.shared().logger.Error("http_observer_failed", {{"error", e.what()}});
  }
}

void Session::BeginReadDeadline() {
  read_deadline_ = Clock::now() + worker_.shared().options.read_timeout;
  reading_ = true;
  read_timed_out_ = false;
  if (!watchdog_armed_) ArmWatchdog(read_deadline_);
}

bool Session::EndReadDeadline() {
  reading_ = false;
  return std::exchange(read_timed_out_, false);
}

void Session::ArmWatchdog(Clock::time_point at) {
  watchdog_armed_ = true;
  watchdog_.expires_at(at);
  // weak_ptr: a pending wait must not keep a finished session alive.
  watchdog_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (auto self = weak.lock()) self->OnWatchdog(ec);
  });
}

void Session::OnWatchdog(boost::system::error_code ec) {
  watchdog_armed_ = false;
  if (ec || closed_ || !reading_) return;
  // The deadline moved on since this wait was armed (a later request): wait for the new one.
  if (Clock::now() < read_deadline_) {
    ArmWatchdog(read_deadline_);
    return;
  }
  read_timed_out_ = true;
  boost::system::error_code ignored;
  stream_.socket().cancel(ignored);  // cancel, not close: the 408 still has to be written
}

void Session::OnStop() {
  if (phase_ == Phase::kIdle) Close();
}

void Session::ForceClose() {
  cancel_.emit(asio::cancellation_type::terminal);
  Close();
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  stream_.close();
  watchdog_.cancel();
}

void Session::Detach() {
  if (!is_linked()) return;
  worker_.shared().connections.fetch_sub(1, std::memory_order_relaxed);
  worker_.Unregister(*this);
}

}  // namespace keycache::http_detail
