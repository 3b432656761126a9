#include "http/http_client.h"

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <string_view>

namespace keycache {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;
using boost::asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::uint32_t kMaxResponseHeader = 64 * 1024;
constexpr std::uint64_t kMaxResponseBody = 64ull * 1024 * 1024;

}  // namespace

HttpClient::HttpClient(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}

// Starts one async operation and runs the private io_context until it completes or the deadline
// passes; in the latter case cancels it, waits for the cancellation and reports kTimeout.
template <class StartOp, class CancelOp>
error_code HttpClient::RunOp(Deadline deadline, StartOp&& start, CancelOp&& cancel) {
  bool done = false;
  error_code result;
  start([&done, &result](error_code ec) {
    done = true;
    result = ec;
  });
  ioc_.restart();
  ioc_.run_until(deadline);
  if (done) return result;
  cancel();
  ioc_.restart();
  ioc_.run();
  return Errc::kTimeout;
}

Result<tcp::socket> HttpClient::Connect(Deadline deadline) {
  tcp::resolver resolver(ioc_);
  tcp::resolver::results_type endpoints;
  error_code ec = RunOp(
      deadline,
      [&](auto done) {
        resolver.async_resolve(host_, std::to_string(port_),
                               [&endpoints, done](error_code ec, tcp::resolver::results_type r) {
                                 endpoints = std::move(r);
                                 done(ec);
                               });
      },
      [&] { resolver.cancel(); });
  if (ec) return ec;

  tcp::socket socket(ioc_);
  ec = RunOp(
      deadline,
      [&](auto done) {
        asio::async_connect(socket, endpoints,
                            [done](error_code ec, const tcp::endpoint&) { done(ec); });
      },
      // Closing (not cancelling) also stops the range connect from trying the next endpoint.
      [&] { socket.close(); });
  if (ec) return ec;
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  return socket;
}

Result<ClientResponse> HttpClient::Send(beast_http::verb method, std::string target,
                                        std::string body, Headers headers,
                                        std::chrono::milliseconds timeout) {
  const Deadline deadline = std::chrono::steady_clock::now() + timeout;
  beast_http::request<beast_http::string_body> req{method, target, 11};
  req.set(beast_http::field::host, host_ + ":" + std::to_string(port_));
  req.set(beast_http::field::user_agent, "keycache-http-client");
  req.body() = std::move(body);
  req.prepare_payload();
  for (auto& [name, value] : headers) req.set(name, value);

  for (int attempt = 0;; ++attempt) {
    const bool reused = socket_.is_open();
    if (!reused) {
      Result<tcp::socket> socket = Connect(deadline);
      if (!socket) return socket.error();
      socket_ = std::move(*socket);
      buffer_.clear();
      ++connects_;
    }
    auto cancel = [this] {
      error_code ignored;
      socket_.cancel(ignored);
    };
    const bool may_retry = reused && attempt == 0;

    error_code ec = RunOp(
        deadline,
        [&](auto done) {
          beast_http::async_write(socket_, req, [done](error_code ec, std::size_t) { done(ec); });
        },
        cancel);
    if (ec) {
      Disconnect();
      if (may_retry && ec != Errc::kTimeout) continue;
      return ec;
    }

    beast_http::response_parser<beast_http::string_body> parser;
    parser.header_limit(kMaxResponseHeader);
    parser.body_limit(kMaxResponseBody);
    ec = RunOp(
        deadline,
        [&](auto done) {
          beast_http::async_read(socket_, buffer_, parser,
                                 [done](error_code ec, std::size_t) { done(ec); });
        },
        cancel);
    if (ec) {
      const bool nothing_received = !parser.got_some();
      Disconnect();
      if (may_retry && nothing_received && ec != Errc::kTimeout) continue;
      return ec;
    }

    beast_http::response<beast_http::string_body> res = parser.release();
    if (!res.keep_alive()) Disconnect();
    ClientResponse out;
    out.status = res.result_int();
    out.body = std::move(res.body());
    out.headers = std::move(static_cast<beast_http::fields&>(res));
    return out;
  }
}

Result<std::string> HttpClient::SendRaw(std::string bytes, std::chrono::milliseconds timeout) {
  const Deadline deadline = std::chrono::steady_clock::now() + timeout;
  Result<tcp::socket> connected = Connect(deadline);
  if (!connected) return connected.error();
  tcp::socket socket = std::move(*connected);
  auto cancel = [&socket] {
    error_code ignored;
    socket.cancel(ignored);
  };

  if (!bytes.empty()) {
    error_code ec = RunOp(
        deadline,
        [&](auto done) {
          asio::async_write(socket, asio::buffer(bytes),
                            [done](error_code ec, std::size_t) { done(ec); });
        },
        cancel);
    // A write error (the server closed early) still leaves its answer to be read.
    if (ec == Errc::kTimeout) return ec;
  }

  std::string received;
  std::array<char, 4096> chunk;
  for (;;) {
    std::size_t n = 0;
    error_code ec = RunOp(
        deadline,
        [&](auto done) {
          socket.async_read_some(asio::buffer(chunk), [&n, done](error_code ec, std::size_t k) {
            n = k;
            done(ec);
          });
        },
        cancel);
    received.append(chunk.data(), n);
    if (ec == asio::error::eof || ec == asio::error::connection_reset) return received;
    if (ec) return ec;
  }
}

void HttpClient::Disconnect() {
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  buffer_.clear();
}

}  // namespace keycache
