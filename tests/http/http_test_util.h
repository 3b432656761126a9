// Helpers for the http tests: a server running on its own thread, bounded polling, and a parser
// for the raw bytes of several responses.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "http/http_server.h"
#include "http/router.h"
#include "util/log.h"

namespace keycache::testing {

using namespace std::chrono_literals;

template <class Pred>
bool PollUntil(Pred pred, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

inline HttpServerOptions TestOptions() {
  HttpServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.threads = 2;
  options.read_timeout = 5s;
  return options;
}

// Starts the server on construction and runs it on a thread; Stop(0) and join on destruction.
class TestServer {
 public:
  explicit TestServer(const Router& router, HttpServerOptions options = TestOptions(),
                      RequestObserver observer = {})
      : server_(std::move(options), router, logger_, std::move(observer)) {
    Result<void> started = server_.Start();
    EXPECT_TRUE(started) << started.error().message();
    if (started) {
      thread_ = std::thread([this] {
        server_.Run();
        stopped_.store(true);
      });
    }
  }
  ~TestServer() {
    server_.Stop(0ms);
    if (thread_.joinable()) thread_.join();
  }

  HttpServer& server() { return server_; }
  uint16_t port() const { return server_.port(); }
  bool stopped() const { return stopped_.load(); }
  bool WaitStopped(std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    return PollUntil([this] { return stopped(); }, bound);
  }

 private:
  Logger logger_{LogLevel::kWarn};
  HttpServer server_;
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

// Parses back-to-back responses (each with Content-Length); stops at the first incomplete one.
inline std::vector<Response> ParseResponses(std::string_view raw) {
  namespace beast_http = boost::beast::http;
  std::vector<Response> out;
  while (!raw.empty()) {
    beast_http::response_parser<beast_http::string_body> parser;
    parser.eager(true);
    while (!parser.is_done() && !raw.empty()) {
      boost::beast::error_code ec;
      std::size_t used = parser.put(boost::asio::buffer(raw.data(), raw.size()), ec);
      raw.remove_prefix(used);
      if (ec == beast_http::error::need_more) {
        if (used == 0) return out;
        continue;
      }
      if (ec) return out;
    }
    if (!parser.is_done()) return out;
    out.push_back(parser.release());
  }
  return out;
}

inline std::string JsonField(std::string_view json, std::string_view key) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return "<not a json object>";
  const boost::json::value* field = v.as_object().if_contains(key);
  if (field == nullptr || !field->is_string()) return "<missing>";
  return std::string(field->as_string());
}

}  // namespace keycache::testing
