#include "http/session.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/status.hpp>
#include <charconv>
#include <cstdint>
#include <exception>
#include <limits>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <variant>

#include "http/http_json.h"
#include "http/worker.h"

namespace keycache::http_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using boost::asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable_t<Session::IoExecutor>{});
constexpr std::size_t kReadChunk = 8192;
// Requests a session answers in a row from bytes already buffered (a pipelining client) before
// it lets the thread's other sessions run.
constexpr int kMaxAnsweredInARow = 16;
// After an error response, keep reading (and discarding) for a bounded time and size so the
// client receives the response instead of a reset caused by its unread request bytes.
constexpr std::chrono::milliseconds kMaxLinger{2000};
constexpr std::size_t kMaxLingerBytes = 1 << 20;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

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

void AppendNumber(std::string& out, std::uint64_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

// "HTTP/1.1 200 OK\r\n" for a version (11 = 1.1) and a three-digit code.
void AppendStatusLine(std::string& out, unsigned version, unsigned code, std::string_view reason) {
  char start[] = "HTTP/1.1 200 ";
  start[5] = static_cast<char>('0' + version / 10 % 10);
  start[7] = static_cast<char>('0' + version % 10);
  start[9] = static_cast<char>('0' + code / 100 % 10);
  start[10] = static_cast<char>('0' + code / 10 % 10);
  start[11] = static_cast<char>('0' + code % 10);
  out.append(start, sizeof start - 1);
  out.append(reason);
  out.append("\r\n");
}

// The bytes beast's serializer would send for the header of `res` (its fields as they are, in
// order), without the blank line; Content-Length is left out when `skip_content_length`.
void AppendHead(std::string& out, const Response& res, bool skip_content_length) {
  AppendStatusLine(out, res.version(), res.result_int(), res.reason());
  for (const auto& field : res) {
    if (skip_content_length && field.name() == beast_http::field::content_length) continue;
    out.append(field.name_string());
    out.append(": ");
    out.append(field.value());
    out.append("\r\n");
  }
}

bool MustHaveEmptyBody(unsigned code) { return code / 100 == 1 || code == 204 || code == 304; }

// The framing headers the server writes itself, as beast's keep_alive() and prepare_payload()
// would set them for a request of `version`; Content-Length is the body's even for HEAD.
void AppendConnectionAndLength(std::string& out, unsigned version, bool keep_alive,
                               std::size_t body_size) {
  if (version >= 11 && !keep_alive) out.append("Connection: close\r\n");
  if (version < 11 && keep_alive) out.append("Connection: keep-alive\r\n");
  out.append("Content-Length: ");
  AppendNumber(out, body_size);
  out.append("\r\n");
}

// Renders the response to a request of `version`, normalised as beast's keep_alive() and
// prepare_payload() would: the Connection header, Content-Length; a HEAD response keeps the
// Content-Length of the body it does not carry. When the handler set Connection or
// Transfer-Encoding itself (rare), beast does the normalisation so their tokens merge exactly as
// before; otherwise the two headers are written here without touching `res`'s fields. Throws
// std::invalid_argument, as prepare_payload does, for a body on a 1xx, 204 or 304.
void RenderResponse(Response& res, unsigned version, bool keep_alive, bool head, std::string& out) {
  res.version(version);
  if (res.find(beast_http::field::connection) != res.end() ||
      res.find(beast_http::field::transfer_encoding) != res.end()) {
    res.keep_alive(keep_alive);
    res.prepare_payload();
    AppendHead(out, res, false);
  } else {
    if (!res.body().empty() && MustHaveEmptyBody(res.result_int())) {
      throw std::invalid_argument("invalid response body");
    }
    AppendHead(out, res, true);
    AppendConnectionAndLength(out, version, keep_alive, res.body().size());
  }
  out.append("\r\n");
  if (!head) out.append(res.body());
}

// RenderResponse for a PlainResponse: its head is already in wire form, so only the status line,
// Connection and Content-Length are written here. False (nothing rendered) for a body on a 1xx,
// 204 or 304, or a status outside 100..999.
bool RenderPlain(const PlainResponse& res, unsigned version, bool keep_alive, bool head,
                 std::string& out) {
  const unsigned code = res.status;
  if (code < 100 || code > 999) return false;
  if (!res.body.empty() && MustHaveEmptyBody(code)) return false;
  AppendStatusLine(out, version, code,
                   beast_http::obsolete_reason(static_cast<beast_http::status>(code)));
  out.append(res.head);
  AppendConnectionAndLength(out, version, keep_alive, res.body.size());
  out.append("\r\n");
  if (!head) out.append(res.body);
  return true;
}

bool WantsClose(const Response& res) {
  auto it = res.find(beast_http::field::connection);
  return it != res.end() && beast_http::token_list(it->value()).exists("close");
}

}  // namespace

Session::Session(Worker& worker, Socket socket)
    : worker_(worker), socket_(std::move(socket)), watchdog_(socket_.get_executor()) {
  boost::system::error_code ec;
  tcp::endpoint remote = socket_.remote_endpoint(ec);
  if (!ec) peer_ = remote.address();
  peer_text_ = peer_.to_string();
  worker_.Register(*this);
}

Session::~Session() { Detach(); }

void Session::Start(std::shared_ptr<Session> session) {
  auto executor = session->socket_.get_executor();
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

Session::Awaitable<void> Session::Run(std::shared_ptr<Session> self) {
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

Session::Awaitable<void> Session::Loop() {
  const HttpServerOptions& options = worker_.shared().options;
  const Router& router = worker_.shared().router;
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  // The synchronous send below must return would_block instead of waiting; should the mode not
  // be set, every response is written asynchronously.
  boost::system::error_code blocking_ec;
  socket_.non_blocking(true, blocking_ec);
  const bool send_directly = !blocking_ec;

  // The clock is read twice per request answered from memory: when its bytes arrived and when
  // its response was written. Every deadline and the duration are measured from those readings
  // (a request parsed and answered without waiting takes microseconds).
  Clock::time_point now = Clock::now();
  int answered_in_a_row = 0;  // since the session last let others run
  while (!closed_) {
    if (buffer_.size() == 0) {
      // Idle keep-alive: a timeout or a Stop here just closes, there is nobody to answer.
      phase_ = Phase::kIdle;
      if (worker_.stopping()) break;
      SetDeadline(now, options.read_timeout, OnDeadline::kClose);
      auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(kReadChunk), kTuple);
      if (ec) break;
      buffer_.commit(n);
      now = Clock::now();
      answered_in_a_row = 0;  // the read completed through the scheduler
    } else if (answered_in_a_row >= kMaxAnsweredInARow) {
      // Responses are sent without suspending, so a pipelining client would otherwise keep the
      // thread for a whole buffer of requests: queue behind the thread's other ready work.
      co_await asio::post(socket_.get_executor(), asio::use_awaitable_t<IoExecutor>{});
      if (closed_) break;
      answered_in_a_row = 0;
    }
    ++answered_in_a_row;

    phase_ = Phase::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
        options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(options.max_body_bytes);
    SetDeadline(now, options.read_timeout, OnDeadline::kCancelRead);
    beast::error_code read_ec;
    if (!ParseWhole(read_ec)) {
      read_ec = co_await ReadRequest();
      now = Clock::now();
    }
    ClearDeadline();
    const bool timed_out = std::exchange(read_timed_out_, false);
    if (read_ec) {
      co_await AnswerReadError(read_ec, timed_out);
      break;
    }

    phase_ = Phase::kHandling;
    const Clock::time_point start = now;
    Request& req = parser_->get();
    const std::string_view target = req.target();
    const std::size_t question = target.find('?');
    const std::string_view path = target.substr(0, question);
    const std::string_view query =
        question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
    Router::ParamArray params;
    Router::Match match = router.Find(req.method(), path, params);

    Response res;
    std::optional<PlainResponse> plain;  // a fast path's answer in wire form, instead of `res`
    bool waited = false;
    if (match.kind == Router::MatchKind::kFound) {
      RequestContext ctx{req,
                         peer_,
                         path,
                         query,
                         {params.data(), match.param_count},
                         router.param_names(match.route),
                         peer_text_};
      // Sync handlers and fast paths are plain calls; only a Handler (or the rest of a fast
      // path that could not answer) costs a coroutine, spawned on this thread and awaited.
      std::exception_ptr failure;
      std::optional<asio::awaitable<Response>> slow;
      try {
        if (const auto* sync = std::get_if<SyncHandler>(match.handler)) {
          res = (*sync)(ctx);
        } else if (const auto* both = std::get_if<FastPathHandler>(match.handler)) {
          FastPathResult fast = both->fast(ctx);
          if (auto* answered = std::get_if<Response>(&fast)) {
            res = std::move(*answered);
          } else if (auto* wire = std::get_if<PlainResponse>(&fast)) {
            plain.emplace(std::move(*wire));
          } else {
            slow.emplace(std::move(std::get<asio::awaitable<Response>>(fast)));
          }
        } else {
          slow.emplace(std::get<Handler>(*match.handler)(ctx));
        }
      } catch (...) {
        failure = std::current_exception();
      }
      if (slow) {
        waited = true;
        try {
          res = co_await asio::co_spawn(socket_.get_executor(), std::move(*slow),
                                        asio::use_awaitable_t<IoExecutor>{});
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
    // A PlainResponse has no Connection header: only the request and the server decide.
    const bool keep_alive = req.keep_alive() && (plain || !WantsClose(res)) &&
                            !worker_.stopping() &&
                            !worker_.shared().draining.load(std::memory_order_relaxed);
    const bool head = req.method() == beast_http::verb::head;
    const unsigned status = plain ? plain->status : res.result_int();
    out_.clear();
    std::string invalid;
    if (plain) {
      if (!RenderPlain(*plain, req.version(), keep_alive, head, out_)) {
        invalid = "invalid status or body";
      }
    } else {
      try {
        RenderResponse(res, req.version(), keep_alive, head, out_);
      } catch (const std::exception& e) {
        invalid = e.what();  // what beast's prepare_payload would have thrown
      }
    }
    if (!invalid.empty()) {
      // A handler bug (a body on a 204...): logged, and the connection is closed unanswered.
      worker_.shared().logger.Error("http_invalid_response",
                                    {{"route", router.pattern(match.route)}, {"error", invalid}});
      break;
    }

    phase_ = Phase::kWriting;
    // Most responses fit in the socket's send buffer: one non-blocking send writes them with no
    // asynchronous operation, so the session is not suspended and resumed for it. What it could
    // not write goes out asynchronously, under the write deadline. Other sessions still get
    // their turn: at every read, and after kMaxAnsweredInARow pipelined requests.
    boost::system::error_code write_ec;
    std::size_t written = send_directly ? socket_.write_some(asio::buffer(out_), write_ec) : 0;
    if (write_ec == asio::error::would_block || write_ec == asio::error::try_again ||
        write_ec == asio::error::interrupted) {
      write_ec = {};
      written = 0;
    }
    if (!write_ec && written < out_.size()) {
      // A handler that waited (a coroutine) may have taken a while: a fresh reading.
      SetDeadline(waited ? Clock::now() : start, options.read_timeout, OnDeadline::kClose);
      auto [rest_ec, rest] =
          co_await asio::async_write(socket_, asio::buffer(out_) + written, kTuple);
      write_ec = rest_ec;
      ClearDeadline();
    }
    now = Clock::now();
    Observe(req.method(), match.route, status, start, now, target, !write_ec);
    if (write_ec || !keep_alive) break;
  }
  Close();
}

// Feeds buffered bytes to the parser until it needs more (need_more), fails, or is done with the
// header (`header_only`) or the whole message.
beast::error_code Session::ParseBuffered(bool header_only) {
  beast::error_code ec;
  for (;;) {
    if (header_only ? parser_->is_header_done() : parser_->is_done()) return {};
    if (buffer_.size() == 0) return beast_http::error::need_more;
    const std::size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == beast_http::error::need_more || (!ec && used == 0)) {
      // Past the header, the parser takes body bytes as they come (body_limit bounds them), so
      // what it leaves buffered is a chunk-size line with its extensions, or trailer fields.
      // Boost 1.81's parser bounds neither: without this, a client could make the session
      // buffer them without end.
      if (parser_->is_header_done() && buffer_.size() > worker_.shared().options.max_header_bytes) {
        return beast_http::error::body_limit;
      }
      return beast_http::error::need_more;
    }
    if (ec) return ec;
  }
}

// Most requests arrive whole in the idle read: they are parsed here, with no asynchronous
// operation and no coroutine frame. False when ReadRequest must go on (more bytes needed, or a
// 100 Continue to send first); true when `ec` is the outcome.
bool Session::ParseWhole(beast::error_code& ec) {
  ec = ParseBuffered(true);
  if (ec) return ec != beast_http::error::need_more;
  if (!parser_->is_done() && parser_->get().count(beast_http::field::expect) != 0) return false;
  ec = ParseBuffered(false);
  return ec != beast_http::error::need_more;
}

// Reads the rest of a request ParseWhole could not finish, like beast's async_read_header, the
// 100 Continue a client may wait for, then async_read.
Session::Awaitable<beast::error_code> Session::ReadRequest() {
  for (bool header_only : {true, false}) {
    for (;;) {
      beast::error_code ec = ParseBuffered(header_only);
      if (ec != beast_http::error::need_more) {
        if (ec) co_return ec;
        break;
      }
      auto [read_ec, n] = co_await socket_.async_read_some(buffer_.prepare(kReadChunk), kTuple);
      buffer_.commit(n);
      if (read_ec == asio::error::eof) {
        if (!parser_->got_some()) co_return beast_http::error::end_of_stream;
        beast::error_code eof_ec;
        parser_->put_eof(eof_ec);  // a request has no read-to-EOF body: partial_message
        co_return eof_ec ? eof_ec : beast::error_code(beast_http::error::partial_message);
      }
      if (read_ec) co_return read_ec;
    }
    if (header_only && !parser_->is_done() &&
        beast::iequals(parser_->get()[beast_http::field::expect], "100-continue")) {
      auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(kContinue), kTuple);
      if (ec) co_return ec;
    }
  }
  co_return beast::error_code();
}

Session::Awaitable<void> Session::AnswerReadError(beast::error_code ec, bool timed_out) {
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
  out_.clear();
  AppendHead(out_, res, false);  // already says Connection: close and has its Content-Length
  out_.append("\r\n");
  out_.append(res.body());
  SetDeadline(start, worker_.shared().options.read_timeout, OnDeadline::kClose);
  auto [write_ec, written] = co_await asio::async_write(socket_, asio::buffer(out_), kTuple);
  Observe(method, Router::kNoRoute, status, start, Clock::now(), target, !write_ec);
  if (!write_ec) co_await Linger();
}

Session::Awaitable<void> Session::Linger() {
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  SetDeadline(Clock::now(),
              std::min<Clock::duration>(worker_.shared().options.read_timeout, kMaxLinger),
              OnDeadline::kClose);
  std::size_t drained = 0;
  while (!closed_ && drained < kMaxLingerBytes) {
    buffer_.clear();
    auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(kReadChunk), kTuple);
    if (ec) break;
    drained += n;
  }
}

void Session::Observe(beast_http::verb method, int route, unsigned status, Clock::time_point start,
                      Clock::time_point end, std::string_view target, bool write_ok) {
  const RequestObserver& observer = worker_.shared().observer;
  if (!observer) return;
  RequestObservation observation{method, route,       worker_.shared().router.pattern(route),
                                 status, end - start, peer_,
                                 target, write_ok};
  try {
    observer(observation);
  } catch (const std::exception& e) {
    worker_.shared().logger.Error("http_observer_failed", {{"error", e.what()}});
  }
}

void Session::SetDeadline(Clock::time_point now, Clock::duration after, OnDeadline action) {
  deadline_ = now + after;
  on_deadline_ = action;
  // A later deadline waits for the armed wait to fire and re-arms then; an earlier one (the
  // linger bound) re-arms at once.
  if (!watchdog_armed_ || deadline_ < armed_for_) ArmWatchdog(deadline_);
}

void Session::ArmWatchdog(Clock::time_point at) {
  watchdog_armed_ = true;
  armed_for_ = at;
  watchdog_.expires_at(at);  // cancels a pending wait, whose handler then sees an error
  // weak_ptr: a pending wait must not keep a finished session alive.
  watchdog_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (auto self = weak.lock()) self->OnWatchdog(ec);
  });
}

void Session::OnWatchdog(boost::system::error_code ec) {
  if (ec) return;  // replaced by a newer wait, or the session is closing
  watchdog_armed_ = false;
  if (closed_ || on_deadline_ == OnDeadline::kNothing) return;
  // The deadline moved on since this wait was armed (a later phase): wait for the new one.
  if (Clock::now() < deadline_) {
    ArmWatchdog(deadline_);
    return;
  }
  if (on_deadline_ == OnDeadline::kCancelRead) {
    read_timed_out_ = true;
    boost::system::error_code ignored;
    socket_.cancel(ignored);  // cancel, not close: the 408 still has to be written
  } else {
    Close();
  }
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
  boost::system::error_code ignored;
  socket_.close(ignored);
  watchdog_.cancel();
}

void Session::Detach() {
  if (!is_linked()) return;
  worker_.shared().connections.fetch_sub(1, std::memory_order_relaxed);
  worker_.Unregister(*this);
}

}  // namespace keycache::http_detail
