// HttpServer request handling over real sockets on 127.0.0.1, server on 2 threads.
#include "http/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/write.hpp>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http/http_client.h"
#include "http/http_json.h"
#include "http/plain_response.h"
#include "http_test_util.h"

namespace keycache {
namespace {

namespace asio = boost::asio;
using boost::beast::http::field;
using boost::beast::http::verb;
using testing::JsonField;
using testing::ParseResponses;
using testing::PollUntil;
using testing::TestOptions;
using testing::TestServer;
using namespace std::chrono_literals;

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() {
    Must(router_.AddSync(verb::get, "/hello", [](RequestContext& ctx) {
      return JsonResponse(200, R"({"hello":"world"})", ctx.req.version(), ctx.req.keep_alive());
    }));
    Must(router_.AddSync(verb::get, "/v1/keys/{id}", [](RequestContext& ctx) {
      return JsonResponse(200, "{\"id\":" + JsonString(ctx.Param("id")) +
                                   ",\"query\":" + JsonString(ctx.query) + "}");
    }));
    Must(router_.Add(verb::post, "/v1/keys/{id}/rotate",
                     [](RequestContext& ctx) -> asio::awaitable<Response> {
                       co_return JsonResponse(200, "{\"id\":" + JsonString(ctx.Param(0)) + "}");
                     }));
    Must(router_.AddSync(verb::post, "/echo",
                         [](RequestContext& ctx) { return JsonResponse(200, ctx.req.body()); }));
    Must(router_.AddSync(verb::get, "/close", [](RequestContext&) {
      Response res = JsonResponse(200, "{}");
      res.set(field::connection, "close");
      return res;
    }));
    Must(router_.AddSync(verb::get, "/throw", [](RequestContext&) -> Response {
      throw std::runtime_error("sync boom");
    }));
    Must(router_.Add(verb::get, "/athrow", [](RequestContext&) -> asio::awaitable<Response> {
      throw std::runtime_error("async boom");
      co_return JsonResponse(200, "{}");
    }));
    Must(router_.AddSync(verb::head, "/hello", [](RequestContext&) {
      return JsonResponse(200, R"({"hello":"world"})");
    }));
    Must(router_.AddSync(verb::get, "/big", [](RequestContext&) {
      Response res{boost::beast::http::status::ok, 11};
      res.body() = BigBody();
      return res;
    }));
    Must(router_.AddSync(verb::get, "/peer", [](RequestContext& ctx) {
      return JsonResponse(200, "{\"peer\":" + JsonString(ctx.peer_text) + "}");
    }));
    // Answers "?hit" itself, throws on "?throw", hands anything else to a coroutine that owns
    // what the fast part parsed (the query).
    Must(router_.AddFastPath(verb::get, "/fast",
                             FastPathHandler{[this](RequestContext& ctx) -> FastPathResult {
                               if (ctx.query == "throw") throw std::runtime_error("fast boom");
                               if (ctx.query == "hit")
                                 return JsonResponse(200, R"({"path":"fast"})");
                               return Slow(std::string(ctx.query));
                             }}));
    // Answers in wire form; "?bad" is a handler bug (a body on a 204).
    for (verb method : {verb::get, verb::head}) {
      Must(router_.AddFastPath(method, "/plain",
                               FastPathHandler{[](RequestContext& ctx) -> FastPathResult {
                                 if (ctx.query == "bad") return PlainResponse{204, {}, "oops"};
                                 return Plain();
                               }}));
    }
    // Runs a step on another executor and resumes on the server thread.
    Must(router_.Add(verb::get, "/pool", [this](RequestContext&) -> asio::awaitable<Response> {
      const std::thread::id before = std::this_thread::get_id();
      auto work = []() -> asio::awaitable<std::thread::id> {
        co_return std::this_thread::get_id();
      };
      const std::thread::id in_pool =
          co_await asio::co_spawn(pool_.get_executor(), work(), asio::use_awaitable);
      const std::thread::id after = std::this_thread::get_id();
      const bool ok = in_pool != before && after == before;
      co_return JsonResponse(200, ok ? R"({"ok":"yes"})" : R"({"ok":"no"})");
    }));
  }

  static void Must(const Result<void>& r) { ASSERT_TRUE(r) << r.error().message(); }

  // Far more than loopback's socket buffers hold, so its response cannot be sent in one go.
  static const std::string& BigBody() {
    static const std::string body = [] {
      std::string b(32u << 20, '\0');
      for (std::size_t i = 0; i < b.size(); ++i) b[i] = "0123456789abcdef"[(i * 7 + i / 4096) % 16];
      return b;
    }();
    return body;
  }

  // Starts a server on router_, writes `raw` on one connection and returns all it answered.
  Result<std::string> Exchange(std::string raw) {
    TestServer server(router_);
    HttpClient client("127.0.0.1", server.port());
    return client.SendRaw(std::move(raw));
  }

  static PlainResponse Plain() {
    PlainResponse res{201, {}, R"({"plain":true})"};
    AppendHeader(res.head, "X-A", "1");
    AppendHeader(res.head, "X-B", "two words");
    return res;
  }

  // What beast's serializer writes for `res` after the server's normalisation.
  static std::string BeastBytes(Response res, unsigned version, bool keep_alive, bool head) {
    res.version(version);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    std::ostringstream out;
    out << res;
    std::string bytes = out.str();
    if (head) bytes.resize(bytes.size() - res.body().size());
    return bytes;
  }

  asio::awaitable<Response> Slow(std::string query) {
    slow_calls_.fetch_add(1);
    co_return JsonResponse(200, "{\"path\":\"slow\",\"query\":" + JsonString(query) + "}");
  }

  asio::thread_pool pool_{2};
  std::atomic<int> slow_calls_{0};
  Router router_;
};

TEST_F(HttpServerTest, RoutesWithPathParamsAndQuery) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  Result<ClientResponse> r = client.Send(verb::get, "/v1/keys/kc_abc?verbose=1");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(JsonField(r->body, "id"), "kc_abc");
  EXPECT_EQ(JsonField(r->body, "query"), "verbose=1");
  EXPECT_EQ(r->headers[field::content_type], "application/json");

  r = client.Send(verb::post, "/v1/keys/kc_xyz/rotate");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(JsonField(r->body, "id"), "kc_xyz");
}

TEST_F(HttpServerTest, UnknownPathIs404JsonAndWrongMethodIs405WithAllow) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  Result<ClientResponse> r = client.Send(verb::get, "/v1/nothing");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 404u);
  EXPECT_EQ(JsonField(r->body, "error"), "not_found");

  r = client.Send(verb::delete_, "/v1/keys/abc");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 405u);
  EXPECT_EQ(JsonField(r->body, "error"), "method_not_allowed");
  EXPECT_EQ(r->headers[field::allow], "GET");
  // Neither closes the connection.
  EXPECT_EQ(client.connects(), 1u);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  for (int i = 0; i < 5; ++i) {
    Result<ClientResponse> r =
        client.Send(verb::post, "/echo", "{\"n\":" + std::to_string(i) + "}");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body, "{\"n\":" + std::to_string(i) + "}");
  }
  EXPECT_EQ(client.connects(), 1u);
  EXPECT_TRUE(client.connected());
}

TEST_F(HttpServerTest, HandlerConnectionCloseClosesAndClientReconnects) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  Result<ClientResponse> r = client.Send(verb::get, "/close");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->headers[field::connection], "close");
  EXPECT_FALSE(client.connected());
  r = client.Send(verb::get, "/hello");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(client.connects(), 2u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  std::string raw;
  for (std::string id : {"first", "second", "third"}) {
    raw += "GET /v1/keys/" + id + " HTTP/1.1\r\nHost: t\r\n";
    if (id == "third") raw += "Connection: close\r\n";
    raw += "\r\n";
  }
  Result<std::string> bytes = client.SendRaw(raw);
  ASSERT_TRUE(bytes) << bytes.error().message();
  std::vector<Response> responses = ParseResponses(*bytes);
  ASSERT_EQ(responses.size(), 3u) << *bytes;
  EXPECT_EQ(JsonField(responses[0].body(), "id"), "first");
  EXPECT_EQ(JsonField(responses[1].body(), "id"), "second");
  EXPECT_EQ(JsonField(responses[2].body(), "id"), "third");
  EXPECT_TRUE(responses[0].keep_alive());
  EXPECT_FALSE(responses[2].keep_alive());
}

// A blocking client socket to 127.0.0.1:port with a fixed receive buffer of `receive_buffer`
// bytes (no autotuning) and a receive bound, so a test that reads slowly cannot hang. -1 on
// failure.
int SlowReader(std::uint16_t port, int receive_buffer) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  const timeval bound{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads until `want` bytes arrived, the peer closed, or an error (the receive bound included).
std::string ReceiveUpTo(int fd, std::size_t want) {
  std::string got;
  char chunk[65536];
  while (got.size() < want) {
    const ssize_t n = ::recv(fd, chunk, std::min(sizeof chunk, want - got.size()), 0);
    if (n <= 0) break;
    got.append(chunk, static_cast<std::size_t>(n));
  }
  return got;
}

// The first send takes what the socket buffers hold; the rest goes out as the client reads, and
// the connection then serves its next request. The client's buffer (256 KiB) and the server's
// (at most tcp_wmem's 4 MiB) hold far less than the body; the client reads in 256 KiB steps, so
// the transfer is quick even under a sanitizer on a loaded machine. The write deadline is not
// what this test is about, so it is long.
TEST_F(HttpServerTest, AResponseLargerThanTheSocketBuffersReachesASlowReaderWhole) {
  HttpServerOptions options = TestOptions();
  options.read_timeout = 120s;
  TestServer server(router_, options);
  const int fd = SlowReader(server.port(), 256 << 10);
  ASSERT_GE(fd, 0);
  FdCloser closer{fd};
  ASSERT_TRUE(SendAll(fd, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(200ms);  // the server fills the buffers and must wait for us
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(BigBody().size()) + "\r\n\r\n";
  const std::string got = ReceiveUpTo(fd, head.size() + BigBody().size());
  ASSERT_EQ(got.size(), head.size() + BigBody().size());
  EXPECT_EQ(got.substr(0, head.size()), head);
  EXPECT_TRUE(got.compare(head.size(), std::string::npos, BigBody()) == 0) << "body corrupted";

  ASSERT_TRUE(SendAll(fd, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  std::vector<Response> next = ParseResponses(ReceiveUpTo(fd, 4096));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].result_int(), 200u);
  EXPECT_EQ(JsonField(next[0].body(), "hello"), "world");
}

// A client that stops reading holds the rest of its response: the server gives up when the
// write deadline passes and closes, so the client never gets the whole body.
TEST_F(HttpServerTest, AClientThatStopsReadingIsClosedAtTheWriteDeadline) {
  HttpServerOptions options = TestOptions();
  options.read_timeout = 200ms;
  TestServer server(router_, options);
  const int fd = SlowReader(server.port(), 4096);
  ASSERT_GE(fd, 0);
  FdCloser closer{fd};
  ASSERT_TRUE(SendAll(fd, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(1s);  // five deadlines
  const std::string got = ReceiveUpTo(fd, BigBody().size() + 4096);
  EXPECT_GT(got.size(), 0u);
  EXPECT_LT(got.size(), BigBody().size()) << "the whole response arrived: no deadline";
  // And the server still answers others.
  HttpClient client("127.0.0.1", server.port());
  Result<ClientResponse> r = client.Send(verb::get, "/hello");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200u);
}

// More pipelined requests than a session answers in a row before letting others run: every one
// is answered, in order, across the pauses.
TEST_F(HttpServerTest, ALongPipelineIsAnsweredWholeAndInOrder) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  constexpr int kRequests = 100;
  std::string raw;
  for (int i = 0; i < kRequests; ++i) {
    raw += "GET /v1/keys/k" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n";
    if (i + 1 == kRequests) raw += "Connection: close\r\n";
    raw += "\r\n";
  }
  Result<std::string> bytes = client.SendRaw(raw);
  ASSERT_TRUE(bytes) << bytes.error().message();
  std::vector<Response> responses = ParseResponses(*bytes);
  ASSERT_EQ(responses.size(), static_cast<std::size_t>(kRequests));
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(JsonField(responses[i].body(), "id"), "k" + std::to_string(i));
  }
}

TEST_F(HttpServerTest, BodyOverLimitIs413AndCloses) {
  HttpServerOptions options = TestOptions();
  options.max_body_bytes = 1024;
  TestServer server(router_, options);
  HttpClient client("127.0.0.1", server.port());

  Result<ClientResponse> r = client.Send(verb::post, "/echo", std::string(4096, 'x'));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 413u);
  EXPECT_EQ(JsonField(r->body, "error"), "payload_too_large");
  EXPECT_EQ(r->headers[field::connection], "close");

  // Announced but never sent: rejected from the header alone.
  Result<std::string> raw =
      client.SendRaw("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n");
  ASSERT_TRUE(raw) << raw.error().message();
  std::vector<Response> responses = ParseResponses(*raw);
  ASSERT_EQ(responses.size(), 1u) << *raw;
  EXPECT_EQ(responses[0].result_int(), 413u);

  // Chunked, so the size is only known while reading.
  std::string chunked = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; ++i) chunked += "200\r\n" + std::string(512, 'y') + "\r\n";
  chunked += "0\r\n\r\n";
  raw = client.SendRaw(chunked);
  ASSERT_TRUE(raw) << raw.error().message();
  responses = ParseResponses(*raw);
  ASSERT_EQ(responses.size(), 1u) << *raw;
  EXPECT_EQ(responses[0].result_int(), 413u);

  // Exactly at the limit is fine.
  r = client.Send(verb::post, "/echo", std::string(1024, 'z'));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200u);
}

// Found while fuzzing (tests/fuzz/http_session): beast bounds neither a chunk's extensions nor
// the trailer fields, and the session buffered them without end (64 MB of one extension: 167 MB
// of memory, and no answer until the read timeout).
TEST_F(HttpServerTest, ChunkFramingBeyondTheHeaderLimitIs413) {
  HttpServerOptions options = TestOptions();
  options.max_header_bytes = 1024;
  TestServer server(router_, options);
  HttpClient client("127.0.0.1", server.port());
  const std::string head = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string& endless :
       {"1;ext=" + std::string(200'000, 'e'), "0\r\nX-Trailer: " + std::string(200'000, 't')}) {
    Result<std::string> raw = client.SendRaw(head + endless);
    ASSERT_TRUE(raw) << raw.error().message();
    std::vector<Response> responses = ParseResponses(*raw);
    ASSERT_EQ(responses.size(), 1u) << raw->substr(0, 200);
    EXPECT_EQ(responses[0].result_int(), 413u);
  }

  // Extensions and trailers within the limit are fine.
  Result<std::string> raw = client.SendRaw(head + "3;a=b;c=\"d\"\r\nabc\r\n0\r\nX-T: 1\r\n\r\n");
  ASSERT_TRUE(raw) << raw.error().message();
  std::vector<Response> responses = ParseResponses(*raw);
  ASSERT_EQ(responses.size(), 1u) << *raw;
  EXPECT_EQ(responses[0].result_int(), 200u);
  EXPECT_EQ(responses[0].body(), "abc");
}

TEST_F(HttpServerTest, HeaderOverLimitIs431) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  Result<ClientResponse> r =
      client.Send(verb::get, "/hello", {}, {{"X-Big", std::string(10000, 'h')}});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 431u);
  EXPECT_EQ(JsonField(r->body, "error"), "header_too_large");
  EXPECT_EQ(r->headers[field::connection], "close");
}

TEST_F(HttpServerTest, GarbageIs400AndCloses) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  Result<std::string> raw = client.SendRaw(std::string("\x16\x03\x01 not http at all\r\n\r\n"));
  ASSERT_TRUE(raw) << raw.error().message();
  std::vector<Response> responses = ParseResponses(*raw);
  ASSERT_EQ(responses.size(), 1u) << *raw;
  EXPECT_EQ(responses[0].result_int(), 400u);
  EXPECT_EQ(JsonField(responses[0].body(), "error"), "bad_request");
  EXPECT_FALSE(responses[0].keep_alive());
}

TEST_F(HttpServerTest, IdleConnectionIsClosedSilentlyAfterReadTimeout) {
  HttpServerOptions options = TestOptions();
  options.read_timeout = 200ms;
  TestServer server(router_, options);
  HttpClient client("127.0.0.1", server.port());
  // Nothing sent: the server closes without answering (no 408) well before our bound.
  Result<std::string> raw = client.SendRaw("", 10s);
  ASSERT_TRUE(raw) << raw.error().message();
  EXPECT_EQ(*raw, "");
}

TEST_F(HttpServerTest, StartedButUnfinishedRequestGets408) {
  HttpServerOptions options = TestOptions();
  options.read_timeout = 200ms;
  TestServer server(router_, options);
  HttpClient client("127.0.0.1", server.port());
  Result<std::string> raw = client.SendRaw("GET /hello HTTP/1.1\r\nHost: t\r\n", 10s);
  ASSERT_TRUE(raw) << raw.error().message();
  std::vector<Response> responses = ParseResponses(*raw);
  ASSERT_EQ(responses.size(), 1u) << *raw;
  EXPECT_EQ(responses[0].result_int(), 408u);
  EXPECT_EQ(JsonField(responses[0].body(), "error"), "request_timeout");
}

TEST_F(HttpServerTest, ThrowingHandlersGet500AndTheServerSurvives) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  for (const char* target : {"/throw", "/athrow"}) {
    Result<ClientResponse> r = client.Send(verb::get, target);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 500u) << target;
    EXPECT_EQ(JsonField(r->body, "error"), "internal");
    // The message never leaks the exception text.
    EXPECT_EQ(r->body.find("boom"), std::string::npos);
  }
  Result<ClientResponse> r = client.Send(verb::get, "/hello");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(client.connects(), 1u);  // a 500 does not cost the connection
}

TEST_F(HttpServerTest, AsyncHandlerAwaitsAnotherExecutorAndResumesOnServerThread) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  for (int i = 0; i < 3; ++i) {
    Result<ClientResponse> r = client.Send(verb::get, "/pool");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(JsonField(r->body, "ok"), "yes");
  }
}

TEST_F(HttpServerTest, ExpectContinueGets100BeforeTheFinalResponse) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  Result<std::string> raw = client.SendRaw(
      "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 7\r\n"
      "Connection: close\r\n\r\n{\"a\":1}");
  ASSERT_TRUE(raw) << raw.error().message();
  std::vector<Response> responses = ParseResponses(*raw);
  ASSERT_EQ(responses.size(), 2u) << *raw;
  EXPECT_EQ(responses[0].result_int(), 100u);
  EXPECT_EQ(responses[1].result_int(), 200u);
  EXPECT_EQ(responses[1].body(), "{\"a\":1}");
}

TEST_F(HttpServerTest, Http10WithoutKeepAliveIsClosedAfterTheResponse) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  Result<std::string> raw = client.SendRaw("GET /hello HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(raw) << raw.error().message();
  std::vector<Response> responses = ParseResponses(*raw);
  ASSERT_EQ(responses.size(), 1u) << *raw;
  EXPECT_EQ(responses[0].version(), 10u);
  EXPECT_EQ(responses[0].result_int(), 200u);
}

TEST_F(HttpServerTest, HeadResponsesCarryNoBody) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  Result<std::string> raw =
      client.SendRaw("HEAD /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(raw) << raw.error().message();
  EXPECT_EQ(raw->rfind("HTTP/1.1 404", 0), 0u) << *raw;
  EXPECT_NE(raw->find("Content-Length: "), std::string::npos) << *raw;
  EXPECT_EQ(raw->find("\r\n\r\n"), raw->size() - 4) << *raw;
}

TEST_F(HttpServerTest, HeadOfARouteCarriesTheLengthOfTheBodyItOmits) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  Result<std::string> raw =
      client.SendRaw("HEAD /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(raw) << raw.error().message();
  EXPECT_EQ(raw->rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << *raw;
  EXPECT_NE(raw->find("\r\nContent-Length: 17\r\n"), std::string::npos) << *raw;
  EXPECT_EQ(raw->find("\r\n\r\n"), raw->size() - 4) << *raw;
}

// The server renders responses itself; the bytes must be those beast's serializer wrote after
// the same normalisation (version, keep_alive, prepare_payload).
TEST_F(HttpServerTest, ResponseBytesAreWhatBeastWouldHaveWritten) {
  Result<std::string> raw = Exchange(
      "GET /v1/keys/abc?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
      "DELETE /v1/keys/abc HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /close HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(raw) << raw.error().message();

  auto beast_bytes = [](Response res, unsigned version, bool keep_alive) {
    return BeastBytes(std::move(res), version, keep_alive, false);
  };
  Response not_allowed = JsonError(405, "method_not_allowed", "method not allowed for this path");
  not_allowed.set(field::allow, "GET");
  Response closing = JsonResponse(200, "{}");
  closing.set(field::connection, "close");
  const std::string expected =
      beast_bytes(JsonResponse(200, R"({"id":"abc","query":"x=1"})"), 11, true) +
      beast_bytes(JsonResponse(200, R"({"hello":"world"})"), 10, true) +
      beast_bytes(std::move(not_allowed), 11, true) + beast_bytes(std::move(closing), 11, false);
  EXPECT_EQ(*raw, expected);
  EXPECT_NE(raw->find("Connection: keep-alive\r\n"), std::string::npos) << *raw;
}

TEST_F(HttpServerTest, FastPathAnswersAloneOrHandsOverToTheSlowPath) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  Result<ClientResponse> r = client.Send(verb::get, "/fast?hit");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(JsonField(r->body, "path"), "fast");
  EXPECT_EQ(slow_calls_.load(), 0);

  r = client.Send(verb::get, "/fast?miss");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(JsonField(r->body, "path"), "slow");
  EXPECT_EQ(JsonField(r->body, "query"), "miss");  // what the fast part parsed reaches it
  EXPECT_EQ(slow_calls_.load(), 1);

  r = client.Send(verb::get, "/fast?throw");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 500u);
  EXPECT_EQ(JsonField(r->body, "error"), "internal");
  EXPECT_EQ(slow_calls_.load(), 1);
  EXPECT_EQ(client.connects(), 1u);
}

// A PlainResponse's head is sent as it is; the server adds the status line, Connection and
// Content-Length exactly as for the same answer built as a Response.
TEST_F(HttpServerTest, PlainResponsesAreWrittenAsTheSameAnswerBuiltAsAResponse) {
  Result<std::string> raw = Exchange(
      "GET /plain HTTP/1.1\r\nHost: t\r\n\r\n"
      "HEAD /plain HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /plain HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
      "GET /plain HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(raw) << raw.error().message();
  const std::string expected = BeastBytes(ToResponse(Plain()), 11, true, false) +
                               BeastBytes(ToResponse(Plain()), 11, true, true) +
                               BeastBytes(ToResponse(Plain()), 10, true, false) +
                               BeastBytes(ToResponse(Plain()), 11, false, false);
  EXPECT_EQ(*raw, expected);
  EXPECT_EQ(raw->rfind("HTTP/1.1 201 Created\r\nX-A: 1\r\nX-B: two words\r\nContent-Length: 14\r\n"
                       "\r\n{\"plain\":true}",
                       0),
            0u)
      << *raw;
}

TEST_F(HttpServerTest, AnInvalidPlainResponseClosesTheConnectionUnanswered) {
  std::atomic<int> observed{0};
  TestServer server(router_, TestOptions(), [&](const RequestObservation&) { ++observed; });
  HttpClient client("127.0.0.1", server.port());
  Result<std::string> raw = client.SendRaw("GET /plain?bad HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(raw) << raw.error().message();
  EXPECT_EQ(*raw, "");
  Result<ClientResponse> r = client.Send(verb::get, "/plain");  // the server goes on serving
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 201u);
  EXPECT_EQ(r->body, R"({"plain":true})");
  EXPECT_TRUE(PollUntil([&] { return observed.load() == 1; }));
}

TEST_F(HttpServerTest, HandlersSeeThePeerAddressAsText) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  for (int i = 0; i < 2; ++i) {  // formatted once per connection, valid for every request
    Result<ClientResponse> r = client.Send(verb::get, "/peer");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(JsonField(r->body, "peer"), "127.0.0.1");
  }
}

TEST_F(HttpServerTest, ObserverSeesRoutePatternStatusAndMethod) {
  std::mutex mu;
  std::vector<RequestObservation> seen;  // route_pattern points into the router: stays valid
  TestServer server(router_, TestOptions(), [&](const RequestObservation& o) {
    std::lock_guard lock(mu);
    seen.push_back(o);
    seen.back().target = {};  // only valid during the call
  });
  HttpClient client("127.0.0.1", server.port());
  ASSERT_TRUE(client.Send(verb::get, "/v1/keys/secret-id"));
  ASSERT_TRUE(client.Send(verb::get, "/nope"));
  ASSERT_TRUE(client.Send(verb::put, "/v1/keys/x"));
  // Observations are reported after the write completes, so possibly after the client read; the
  // next connection may land on the other server thread, so wait before opening it.
  auto count_is = [&](std::size_t n) {
    return PollUntil([&] {
      std::lock_guard lock(mu);
      return seen.size() == n;
    });
  };
  ASSERT_TRUE(count_is(3));
  ASSERT_TRUE(client.SendRaw("garbage\r\n\r\n"));
  ASSERT_TRUE(count_is(4));
  std::lock_guard lock(mu);
  EXPECT_EQ(seen[0].method, verb::get);
  EXPECT_EQ(seen[0].route_pattern, "/v1/keys/{id}");
  EXPECT_EQ(seen[0].status, 200u);
  EXPECT_TRUE(seen[0].write_ok);
  EXPECT_EQ(seen[0].peer.to_string(), "127.0.0.1");
  EXPECT_EQ(seen[1].route, Router::kNoRoute);
  EXPECT_EQ(seen[1].route_pattern, "");
  EXPECT_EQ(seen[1].status, 404u);
  EXPECT_EQ(seen[2].route_pattern, "/v1/keys/{id}");
  EXPECT_EQ(seen[2].status, 405u);
  EXPECT_EQ(seen[3].method, verb::unknown);
  EXPECT_EQ(seen[3].status, 400u);
}

}  // namespace
}  // namespace keycache
