// Internal to http/: one server thread's io_context, its SO_REUSEPORT acceptor and the sessions
// it owns, plus the graceful-stop state machine for that thread. Everything except
// RequestStop() and executor() runs on the worker's own thread, so nothing here is locked.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>
#include <chrono>
#include <cstddef>
#include <optional>

#include "http/http_server.h"
#include "http/session.h"
#include "util/error.h"
#include "util/log.h"

namespace keycache::http_detail {

// What every session of a worker needs; immutable after the worker is built.
struct ServerShared {
  const HttpServerOptions& options;
  const Router& router;
  Logger& logger;
  const RequestObserver& observer;
  std::atomic<size_t>& connections;
  const std::atomic<bool>& draining;  // HttpServer::Drain: answer with Connection: close
};

class Worker {
 public:
  explicit Worker(const ServerShared& shared);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Opens, binds and listens; returns the bound port. Called before Run, on the owner's thread.
  Result<uint16_t> Listen(const boost::asio::ip::tcp::endpoint& endpoint);
  // Undoes Listen (a later worker failed to bind); the loop spawned by Listen ends with it.
  void CloseAcceptor();
  void Run();
  // Thread-safe: posts the stop to the worker's thread.
  void RequestStop(std::chrono::milliseconds grace);
  boost::asio::any_io_executor executor() { return ioc_.get_executor(); }

  // For sessions (worker thread only).
  const ServerShared& shared() const { return shared_; }
  bool stopping() const { return stopping_; }
  void Register(Session& session);
  void Unregister(Session& session);

 private:
  using SessionList = boost::intrusive::list<Session, boost::intrusive::constant_time_size<true>>;

  boost::asio::awaitable<void> AcceptLoop();
  void BeginStop(std::chrono::milliseconds grace);
  void ForceCloseAll();
  void Finish();

  const ServerShared shared_;

  // Worker-thread state. Declared before ioc_ because sessions destroyed by ioc_'s destructor
  // (when the worker is torn down with connections still open) unregister from sessions_.
  SessionList sessions_;
  bool stopping_ = false;
  bool finished_ = false;  // ioc_ was stopped or is being destroyed: touch it no more
  bool over_limit_logged_ = false;

  boost::asio::io_context ioc_{1};
  // I/O objects after ioc_, so they are destroyed before it.
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  boost::asio::steady_timer stop_timer_{ioc_};
};

}  // namespace keycache::http_detail
