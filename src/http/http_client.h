// A small blocking HTTP/1.1 client for the CLI and the tests. It keeps one keep-alive connection
// and reconnects when the server closed it. Not thread-safe: use one instance per thread.
//
// Retry rule: when a request on a reused connection fails before any byte of a response arrived
// (typically the server closed the idle connection), it is sent once more on a new connection.
// A duplicate is possible only if the server read the request and then died without answering;
// callers for whom that matters should Disconnect() before a non-idempotent request.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "util/error.h"

namespace keycache {

struct ClientResponse {
  unsigned status = 0;
  std::string body;
  boost::beast::http::fields headers;
};

class HttpClient {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  HttpClient(std::string host, uint16_t port);
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads the whole response within `timeout` (resolve, connect, write,
  // read together). Host, User-Agent and Content-Length are set; `headers` are applied after
  // them and may override them. Errors: Errc::kTimeout when the deadline passes, otherwise the
  // resolver, socket or HTTP parser error_code.
  Result<ClientResponse> Send(boost::beast::http::verb method, std::string target,
                              std::string body = {}, Headers headers = {},
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // For tests: on a fresh connection of its own, writes `bytes` as they are, then returns all
  // bytes received until the server closes (a reset counts as closing). Errc::kTimeout if the
  // server has not closed by the deadline.
  Result<std::string> SendRaw(std::string bytes,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

  void Disconnect();
  bool connected() const { return socket_.is_open(); }
  // How many connections Send has opened so far (keep-alive reuse keeps this at 1).
  std::size_t connects() const { return connects_; }

 private:
  using Deadline = std::chrono::steady_clock::time_point;

  Result<boost::asio::ip::tcp::socket> Connect(Deadline deadline);
  template <class StartOp, class CancelOp>
  boost::system::error_code RunOp(Deadline deadline, StartOp&& start, CancelOp&& cancel);

  const std::string host_;
  const uint16_t port_;
  boost::asio::io_context ioc_{1};
  boost::asio::ip::tcp::socket socket_{ioc_};
  boost::beast::flat_buffer buffer_;
  std::size_t connects_ = 0;
};

}  // namespace keycache
