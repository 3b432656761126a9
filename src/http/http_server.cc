#include "http/http_server.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <thread>
#include <utility>

#include "http/worker.h"

namespace keycache {

namespace asio = boost::asio;
using boost::asio::ip::tcp;

namespace {

// An IP literal as is; otherwise a one-off blocking resolve (startup only).
Result<asio::ip::address> ResolveHost(const std::string& host) {
  if (host.empty()) return Errc::kBadInput;
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) return address;
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, "0", tcp::resolver::passive, ec);
  if (ec) return ec;
  if (results.empty()) return Errc::kNotFound;
  return results.begin()->endpoint().address();
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, const Router& router, Logger& logger,
                       RequestObserver observer)
    : options_(std::move(options)),
      router_(router),
      logger_(logger),
      observer_(std::move(observer)) {
  const http_detail::ServerShared shared{options_,  router_,      logger_,
                                         observer_, connections_, draining_};
  const int threads = std::max(1, options_.threads);
  workers_.reserve(threads);
  for (int i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<http_detail::Worker>(shared));
  }
}

HttpServer::~HttpServer() = default;

Result<void> HttpServer::Start() {
  Result<asio::ip::address> address = ResolveHost(options_.host);
  if (!address) {
    logger_.Error("http_bad_host", {{"host", options_.host}, {"error", address.error().message()}});
    return address.error();
  }
  // The first acceptor binds the requested port (maybe 0); the others join the port it got.
  uint16_t port = options_.port;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Result<uint16_t> bound = workers_[i]->Listen(tcp::endpoint(*address, port));
    if (!bound) {
      logger_.Error("http_bind_failed", {{"address", address->to_string()},
                                         {"port", std::to_string(port)},
                                         {"error", bound.error().message()}});
      for (std::size_t j = 0; j < i; ++j) workers_[j]->CloseAcceptor();
      return bound.error();
    }
    if (i == 0) port = *bound;
  }
  port_.store(port, std::memory_order_release);
  logger_.Info("http_listening", {{"address", address->to_string()},
                                  {"port", std::to_string(port)},
                                  {"threads", std::to_string(workers_.size())}});
  return {};
}

void HttpServer::Run() {
  std::vector<std::thread> threads;
  threads.reserve(workers_.size() - 1);
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    threads.emplace_back([worker = workers_[i].get()] { worker->Run(); });
  }
  workers_[0]->Run();
  for (std::thread& thread : threads) thread.join();
}

void HttpServer::Stop(std::chrono::milliseconds grace) {
  if (stop_requested_.exchange(true, std::memory_order_acq_rel)) return;
  for (auto& worker : workers_) worker->RequestStop(grace);
}

asio::any_io_executor HttpServer::executor(int i) { return workers_.at(i)->executor(); }

}  // namespace keycache
