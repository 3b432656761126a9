#include "http/worker.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <exception>
#include <string>
#include <vector>

namespace keycache::http_detail {

namespace asio = boost::asio;
using boost::asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// Back-off after a failed accept (EMFILE, ENOBUFS...) so the loop does not spin.
constexpr std::chrono::milliseconds kAcceptBackoff{50};
// After the forced close, sessions normally unwind in a few handler runs. One stuck in work
// that ignores cancellation (e.g. awaiting another executor) is abandoned after this.
constexpr std::chrono::milliseconds kAbandonAfter{1000};

}  // namespace

Worker::Worker(const ServerShared& shared) : shared_(shared) {}

Worker::~Worker() {
  // Sessions destroyed with ioc_ below must not call back into it.
  finished_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

Result<uint16_t> Worker::Listen(const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return ec;
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return ec;
  int one = 1;
  if (::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    ec.assign(errno, boost::system::system_category());
    CloseAcceptor();
    return ec;
  }
  acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  tcp::endpoint local;
  if (!ec) local = acceptor_.local_endpoint(ec);
  if (ec) {
    CloseAcceptor();
    return ec;
  }
  Logger& logger = shared_.logger;
  asio::co_spawn(ioc_, AcceptLoop(), [&logger](std::exception_ptr failure) {
    if (!failure) return;
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      logger.Error("http_accept_loop_failed", {{"error", e.what()}});
    } catch (...) {
      logger.Error("http_accept_loop_failed");
    }
  });
  return local.port();
}

void Worker::CloseAcceptor() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void Worker::Run() {
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      // Handlers are written not to throw; if one does, log it and keep serving.
      shared_.logger.Error("http_worker_exception", {{"error", e.what()}});
    }
  }
}

void Worker::RequestStop(std::chrono::milliseconds grace) {
  asio::post(ioc_, [this, grace] { BeginStop(grace); });
}

void Worker::Register(Session& session) { sessions_.push_back(session); }

void Worker::Unregister(Session& session) {
  sessions_.erase(sessions_.iterator_to(session));
  if (stopping_ && !finished_ && sessions_.empty()) Finish();
}

asio::awaitable<void> Worker::AcceptLoop() {
  asio::steady_timer backoff(ioc_);
  for (;;) {
    // Accepted onto the io_context's own executor type: the session's I/O then never goes
    // through any_io_executor.
    auto [ec, socket] = co_await acceptor_.async_accept(ioc_, kTuple);
    if (stopping_ || !acceptor_.is_open()) co_return;
    if (ec) {
      shared_.logger.Warn("http_accept_failed", {{"error", ec.message()}});
      backoff.expires_after(kAcceptBackoff);
      co_await backoff.async_wait(kTuple);
      continue;
    }
    // Over the limit: close at once rather than leave the client hanging in the backlog.
    if (shared_.connections.fetch_add(1, std::memory_order_relaxed) >=
        shared_.options.max_connections) {
      shared_.connections.fetch_sub(1, std::memory_order_relaxed);
      boost::system::error_code ignored;
      socket.close(ignored);
      if (!over_limit_logged_) {
        over_limit_logged_ = true;
        shared_.logger.Warn("http_connection_limit",
                            {{"max_connections", std::to_string(shared_.options.max_connections)}});
      }
      continue;
    }
    over_limit_logged_ = false;
    Session::Start(std::make_shared<Session>(*this, std::move(socket)));
  }
}

void Worker::BeginStop(std::chrono::milliseconds grace) {
  if (stopping_ || finished_) return;
  stopping_ = true;
  CloseAcceptor();
  // Close() never destroys a session synchronously, but do not rely on it while iterating.
  std::vector<Session*> sessions;
  for (Session& session : sessions_) sessions.push_back(&session);
  for (Session* session : sessions) session->OnStop();
  if (sessions_.empty()) {
    Finish();
    return;
  }
  stop_timer_.expires_after(grace);
  stop_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || finished_) return;
    ForceCloseAll();
    stop_timer_.expires_after(kAbandonAfter);
    stop_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || finished_) return;
      shared_.logger.Warn("http_stop_abandoned_sessions",
                          {{"sessions", std::to_string(sessions_.size())}});
      Finish();
    });
  });
}

void Worker::ForceCloseAll() {
  std::vector<Session*> sessions;
  for (Session& session : sessions_) sessions.push_back(&session);
  for (Session* session : sessions) session->ForceClose();
}

void Worker::Finish() {
  finished_ = true;
  stop_timer_.cancel();
  ioc_.stop();
}

}  // namespace keycache::http_detail
