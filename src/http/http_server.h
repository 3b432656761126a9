// An HTTP/1.1 server: N threads, each with its own io_context and its own SO_REUSEPORT acceptor
// on the same address (like nginx workers), so a connection lives on one thread from accept to
// close and the request path shares nothing across threads. Requests are dispatched by a Router.
// Thread-safety: Start, Run and the destructor are called by the owner; Stop, port() and
// executor() may be called from any thread, including a server thread.
//
// Caveats of SO_REUSEPORT: the kernel spreads connections by hash, not by load; and another
// process of the same user that also sets SO_REUSEPORT can bind the same port (and take a share
// of the connections) without an error.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "http/http_types.h"
#include "http/router.h"
#include "util/error.h"
#include "util/log.h"

namespace keycache {

struct HttpServerOptions {
  std::string host;   // an IP literal or a name resolved once at Start ("localhost")
  uint16_t port = 0;  // 0: the kernel picks one; see HttpServer::port()
  int threads = 1;
  size_t max_header_bytes = 8192;  // request line + headers; above -> 431. Also bounds a
                                   // chunk-size line with extensions, and trailers (-> 413)
  size_t max_body_bytes = 65536;   // above -> 413
  // Bounds both an idle keep-alive connection waiting for its next request and the time to
  // receive one whole request (slow clients). Also bounds writing a response.
  std::chrono::milliseconds read_timeout{30000};
  size_t max_connections = 10000;  // across all threads; further connections are closed at once
};

namespace http_detail {
class Worker;
}

class HttpServer {
 public:
  // `router`, `logger` and `observer` must outlive the server; the router must not change after
  // Start. The observer (may be empty) is called on server threads for every request.
  HttpServer(HttpServerOptions options, const Router& router, Logger& logger,
             RequestObserver observer = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Replaces the observer. Only before Start: it lets the owner build the server (whose executors
  // other components need) before the routes whose labels the observer resolves.
  void SetObserver(RequestObserver observer) { observer_ = std::move(observer); }

  // Binds and listens on every thread's acceptor. Errors are values (e.g. address in use) and
  // are also logged with the address. Call once, before Run.
  Result<void> Start();
  // The bound port (the kernel's choice when options.port was 0); 0 before a successful Start.
  uint16_t port() const { return port_.load(std::memory_order_acquire); }

  // Runs the server threads (the calling thread serves thread 0) and returns once Stop has
  // completed on all of them. Work the caller scheduled on executor(i) that is still pending
  // then is abandoned and destroyed with the server.
  void Run();

  // Starts the drain that precedes Stop: the listener keeps accepting and serving, but every
  // response from now on carries Connection: close and its connection is closed after it, so
  // clients and load balancers move to another instance without a failed request. Idle
  // keep-alive connections are left open (closing one races with a request being sent on it);
  // they close after their next response, or at Stop. Any thread; idempotent.
  void Drain() { draining_.store(true, std::memory_order_release); }
  bool draining() const { return draining_.load(std::memory_order_acquire); }

  // Stops accepting, closes idle keep-alive connections at once, lets in-flight requests finish
  // (their responses carry Connection: close), and after `grace` closes every connection and
  // cancels the handlers still running. Idempotent: later calls are ignored. Safe to call before
  // Run, from any thread, or from an asio::signal_set handler running on a server thread.
  void Stop(std::chrono::milliseconds grace);

  int threads() const { return static_cast<int>(workers_.size()); }
  // The executor of server thread i (0 <= i < threads()), for callers that want their timers on
  // the server threads. Handlers already run there and can use co_await this_coro::executor.
  boost::asio::any_io_executor executor(int i);

 private:
  const HttpServerOptions options_;
  const Router& router_;
  Logger& logger_;
  RequestObserver observer_;            // set before Start, read-only afterwards
  std::atomic<size_t> connections_{0};  // open connections across threads (max_connections)
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> draining_{false};
  // Declared last: workers hold references to the members above until they are destroyed.
  std::vector<std::unique_ptr<http_detail::Worker>> workers_;
};

}  // namespace keycache
