// Fuzzes the HTTP server (http/http_server.h) with raw bytes over loopback. One HttpServer per
// process (1 thread, small limits) with sync, coroutine, fast-path and parameter routes; each
// input is written to a fresh connection, in up to four pieces the input chooses, then the
// client half-closes and reads until EOF. Properties: whatever the server sent begins with
// "HTTP/1.1 " ("HTTP/1.0 " to a 1.0 request) and its first response is one the server gives; the
// server closes the connection within a bound (no hang); no session dies of an exception; and a
// well-formed GET on a new connection is still answered 200.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/parser.hpp>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "http/http_json.h"
#include "http/http_server.h"
#include "http/plain_response.h"
#include "http/router.h"

namespace keycache {
namespace {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;
using beast_http::verb;
using namespace std::chrono_literals;

constexpr auto kMaxWait = 5s;  // for the server to close after our half-close

asio::awaitable<void> YieldToTimer() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(0ms);
  co_await timer.async_wait(asio::use_awaitable);
}

void Must(const Result<void>& r) { FUZZ_CHECK(r.has_value()); }

void AddRoutes(Router& router) {
  Must(router.AddSync(verb::get, "/sync",
                      [](RequestContext&) { return JsonResponse(200, R"({"ok":true})"); }));
  Must(router.AddSync(verb::head, "/sync",
                      [](RequestContext&) { return JsonResponse(200, R"({"ok":true})"); }));
  Must(router.AddSync(verb::post, "/echo",
                      [](RequestContext& ctx) { return JsonResponse(200, ctx.req.body()); }));
  Must(router.AddSync(verb::get, "/close", [](RequestContext&) {
    Response res = JsonResponse(200, "{}");
    res.set(beast_http::field::connection, "close");
    return res;
  }));
  Must(router.AddSync(verb::get, "/empty", [](RequestContext&) {
    return Response(beast_http::status::no_content, 11);
  }));
  Must(router.AddSync(verb::get, "/throw", [](RequestContext&) -> Response {
    throw std::runtime_error("handler failure");
  }));
  Must(router.AddSync(verb::get, "/items/{id}/parts/{part}", [](RequestContext& ctx) {
    return JsonResponse(200, "{\"id\":" + JsonString(ctx.Param("id")) +
                                 ",\"part\":" + JsonString(ctx.Param(1)) +
                                 ",\"query\":" + JsonString(ctx.query) + "}");
  }));
  Must(router.Add(verb::get, "/async", [](RequestContext&) -> asio::awaitable<Response> {
    co_await YieldToTimer();
    co_return JsonResponse(200, R"({"path":"async"})");
  }));
  Must(router.Add(verb::post, "/async/{id}", [](RequestContext& ctx) -> asio::awaitable<Response> {
    const std::string id(ctx.Param(0));
    const std::size_t body = ctx.req.body().size();
    co_await YieldToTimer();
    co_return JsonResponse(200,
                           "{\"id\":" + JsonString(id) + ",\"body\":" + std::to_string(body) + "}");
  }));
  Must(router.AddFastPath(verb::get, "/fast",
                          FastPathHandler{[](RequestContext& ctx) -> FastPathResult {
                            if (ctx.query == "hit") return JsonResponse(200, R"({"path":"fast"})");
                            if (ctx.query == "plain") {
                              PlainResponse res{200, {}, R"({"path":"plain"})"};
                              AppendHeader(res.head, "Content-Type", "application/json");
                              return res;
                            }
                            // The rest of the work, owning what it needs (nothing here).
                            return []() -> asio::awaitable<Response> {
                              co_await YieldToTimer();
                              co_return JsonResponse(200, R"({"path":"slow"})");
                            }();
                          }}));
}

// The server, started once per process and never stopped (the process ends with it).
class Harness {
 public:
  Harness() : log_(std::tmpfile()), logger_(LogLevel::kError, log_) {
    AddRoutes(router_);
    HttpServerOptions options;
    options.host = address_;
    options.port = 0;
    options.threads = 1;
    options.max_header_bytes = 1024;
    options.max_body_bytes = 4096;
    options.read_timeout = 500ms;
    server_.emplace(options, router_, logger_);
    FUZZ_CHECK(server_->Start().has_value());
    std::thread([this] { server_->Run(); }).detach();
  }

  const std::string& address() const { return address_; }
  std::uint16_t port() const { return server_->port(); }

  // Log lines written since the last call.
  std::string NewLogLines() {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::pread(::fileno(log_), buf, sizeof buf, static_cast<off_t>(log_read_));
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
      log_read_ += static_cast<std::size_t>(n);
    }
    return out;
  }

 private:
  // A loopback address of our own: the server listens with SO_REUSEPORT, so another process of
  // this user (a test run alongside) could otherwise bind its port and take connections.
  const std::string address_ = [] {
    std::random_device random;
    return "127." + std::to_string(random() % 254 + 1) + "." + std::to_string(random() % 256) +
           "." + std::to_string(random() % 254 + 1);
  }();
  std::FILE* log_;
  Logger logger_;
  Router router_;
  std::optional<HttpServer> server_;
  std::size_t log_read_ = 0;
};

Harness& TheHarness() {
  static Harness* harness = new Harness();  // intentionally immortal: its thread never ends
  return *harness;
}

// connect() interrupted by libFuzzer's SIGALRM watchdog (EINTR) goes on in the background:
// wait for its outcome instead of failing.
bool Connect(int fd, const sockaddr_in& addr) {
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return true;
  if (errno != EINTR) return false;
  pollfd p{fd, POLLOUT, 0};
  int ready;
  do {
    ready = ::poll(&p, 1, 5000);
  } while (ready < 0 && errno == EINTR);
  int error = 0;
  socklen_t len = sizeof error;
  return ready == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0;
}

// Sends `pieces` on a fresh connection, half-closes, and returns everything received until the
// server closes. `closed` is false when the server kept the connection open past kMaxWait.
std::string Exchange(const Harness& server, const std::vector<std::string_view>& pieces,
                     bool& closed) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server.port());
  FUZZ_CHECK(::inet_pton(AF_INET, server.address().c_str(), &addr.sin_addr) == 1);
  if (!Connect(fd, addr)) {
    std::perror("connect to the fuzzed server");
    FUZZ_CHECK(!"the server accepts connections");
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Close with a reset: no TIME_WAIT, so thousands of connections a second never run the
  // client out of ports.
  const linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  const timeval slice{0, 100'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &slice, sizeof slice);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &slice, sizeof slice);

  const auto deadline = std::chrono::steady_clock::now() + kMaxWait;
  bool open = true;
  for (std::string_view piece : pieces) {
    while (open && !piece.empty() && std::chrono::steady_clock::now() < deadline) {
      const ssize_t n = ::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL);
      if (n > 0) {
        piece.remove_prefix(static_cast<std::size_t>(n));
      } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        open = false;  // the server closed early (it may, after an error response)
      }
    }
  }
  ::shutdown(fd, SHUT_WR);

  std::string reply;
  closed = false;
  char buf[16384];
  while (std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      reply.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      closed = true;  // EOF, or a reset (the server closed with our bytes unread)
      break;
    }
  }
  ::close(fd);
  return reply;
}

bool IsServerStatus(unsigned status) {
  for (unsigned s : {100u, 200u, 204u, 400u, 404u, 405u, 408u, 413u, 431u, 500u}) {
    if (status == s) return true;
  }
  return false;
}

// The status line says HTTP/1.1, or HTTP/1.0 to a 1.0 request (the parser refuses any other
// version with a 400, which is itself HTTP/1.1).
void CheckReply(std::string_view reply, std::string_view request) {
  if (reply.empty()) return;  // e.g. the input was empty or ended mid-request
  FUZZ_CHECK(
      reply.starts_with("HTTP/1.1 ") ||
      (reply.starts_with("HTTP/1.0 ") && request.find("HTTP/1.0") != std::string_view::npos));
  beast_http::response_parser<beast_http::string_body> parser;
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(asio::buffer(reply.data(), reply.size()), ec);
  if (parser.is_header_done()) FUZZ_CHECK(IsServerStatus(parser.get().result_int()));
}

}  // namespace
}  // namespace keycache

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keycache;
  Harness& harness = TheHarness();
  if (size == 0) return 0;
  // Byte 0: how many cuts (0..3); the next bytes place them (as fractions of the request).
  const std::size_t cuts = std::min<std::size_t>(data[0] & 3, size - 1);
  const std::string_view request(reinterpret_cast<const char*>(data) + 1 + cuts, size - 1 - cuts);
  std::vector<std::size_t> at{0};
  for (std::size_t i = 0; i < cuts; ++i) at.push_back(data[1 + i] * request.size() / 256);
  std::sort(at.begin(), at.end());
  at.push_back(request.size());
  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; i + 1 < at.size(); ++i)
    pieces.push_back(request.substr(at[i], at[i + 1] - at[i]));

  bool closed = false;
  CheckReply(Exchange(harness, pieces, closed), request);
  FUZZ_CHECK(closed);
  const std::string log = harness.NewLogLines();
  if (log.find("http_session_failed") != std::string::npos) {
    std::fprintf(stderr, "%s", log.c_str());
    FUZZ_CHECK(!"a session ended with an exception");
  }

  const std::string probe = "GET /sync HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n";
  const std::string answer = Exchange(harness, {probe}, closed);
  FUZZ_CHECK(closed && answer.starts_with("HTTP/1.1 200 "));
  return 0;
}
