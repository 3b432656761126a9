// HttpServer start, stop (graceful and forced), limits and concurrency, over real sockets.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "http/http_client.h"
#include "http/http_json.h"
#include "http/http_server.h"
#include "http_test_util.h"

namespace keycache {
namespace {

namespace asio = boost::asio;
using boost::asio::ip::tcp;
using boost::beast::http::field;
using boost::beast::http::verb;
using testing::JsonField;
using testing::PollUntil;
using testing::TestOptions;
using testing::TestServer;
using namespace std::chrono_literals;

class HttpServerLifecycleTest : public ::testing::Test {
 protected:
  HttpServerLifecycleTest() {
    EXPECT_TRUE(router_.AddSync(verb::get, "/v1/keys/{id}", [](RequestContext& ctx) {
      return JsonResponse(200, "{\"id\":" + JsonString(ctx.Param("id")) + "}");
    }));
    // Waits, in small timer steps, until the test releases it: proves Stop came mid-request.
    EXPECT_TRUE(
        router_.Add(verb::get, "/slow", [this](RequestContext&) -> asio::awaitable<Response> {
          slow_executor_ = co_await asio::this_coro::executor;
          slow_entered_ = true;  // publishes slow_executor_
          asio::steady_timer timer(slow_executor_);
          while (!slow_release_) {
            timer.expires_after(2ms);
            co_await timer.async_wait(asio::use_awaitable);
          }
          co_return JsonResponse(200, R"({"slow":"done"})");
        }));
    // Waits far longer than any test; only cancellation ends it.
    EXPECT_TRUE(
        router_.Add(verb::get, "/stuck", [this](RequestContext&) -> asio::awaitable<Response> {
          stuck_entered_ = true;
          asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::hours(1));
          auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
          if (ec == asio::error::operation_aborted) stuck_cancelled_ = true;
          co_return JsonResponse(200, "{}");
        }));
  }

  // Returns once the server thread running the slow handler has run everything posted to it
  // before this call, in particular the stop that HttpServer::Stop posted. (An idle thread may
  // already have finished stopping and would never run the probe.)
  void DrainSlowHandlerThread() {
    std::atomic<bool> done{false};
    asio::post(slow_executor_, [&done] { done = true; });
    ASSERT_TRUE(PollUntil([&] { return done.load(); }));
  }

  Router router_;
  asio::any_io_executor slow_executor_;
  std::atomic<bool> slow_entered_{false};
  std::atomic<bool> slow_release_{false};
  std::atomic<bool> stuck_entered_{false};
  std::atomic<bool> stuck_cancelled_{false};
};

TEST_F(HttpServerLifecycleTest, StartReportsBindErrorsAsValues) {
  asio::io_context ioc;
  tcp::acceptor blocker(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  HttpServerOptions options = TestOptions();
  options.port = blocker.local_endpoint().port();
  Logger logger(LogLevel::kOff);
  HttpServer server(options, router_, logger);
  Result<void> started = server.Start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error(), boost::system::errc::address_in_use);
  EXPECT_EQ(server.port(), 0);

  HttpServerOptions no_host = TestOptions();
  no_host.host = "";
  HttpServer server2(no_host, router_, logger);
  ASSERT_FALSE(server2.Start());
}

TEST_F(HttpServerLifecycleTest, BindsAnEphemeralPortSharedByAllThreads) {
  TestServer server(router_);
  EXPECT_NE(server.port(), 0);
  EXPECT_EQ(server.server().threads(), 2);
  // Several connections; with SO_REUSEPORT each lands on one of the two acceptors.
  for (int i = 0; i < 8; ++i) {
    HttpClient client("127.0.0.1", server.port());
    Result<ClientResponse> r = client.Send(verb::get, "/v1/keys/k" + std::to_string(i));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200u);
  }
}

TEST_F(HttpServerLifecycleTest, ExecutorRunsWorkOnEachServerThread) {
  TestServer server(router_);
  std::atomic<int> ran{0};
  std::thread::id ids[2];
  for (int i = 0; i < 2; ++i) {
    asio::post(server.server().executor(i), [&, i] {
      ids[i] = std::this_thread::get_id();
      ++ran;
    });
  }
  ASSERT_TRUE(PollUntil([&] { return ran.load() == 2; }));
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[0], std::this_thread::get_id());
}

TEST_F(HttpServerLifecycleTest, GracefulStopCompletesTheInFlightResponse) {
  TestServer server(router_);
  auto pending = std::async(std::launch::async, [port = server.port()] {
    HttpClient client("127.0.0.1", port);
    return client.Send(verb::get, "/slow");
  });
  ASSERT_TRUE(PollUntil([&] { return slow_entered_.load(); }));

  server.server().Stop(30s);
  DrainSlowHandlerThread();  // that thread has begun stopping
  slow_release_ = true;

  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  Result<ClientResponse> r = pending.get();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(JsonField(r->body, "slow"), "done");
  EXPECT_EQ(r->headers[field::connection], "close");
  // The 30 s grace was not needed: Run returns once the last connection is done.
  EXPECT_TRUE(server.WaitStopped(10s));

  HttpClient late("127.0.0.1", server.port());
  EXPECT_FALSE(late.Send(verb::get, "/v1/keys/a", {}, {}, 2s));
}

TEST_F(HttpServerLifecycleTest, DrainKeepsServingButClosesEachConnectionAfterItsResponse) {
  TestServer server(router_);
  HttpClient kept("127.0.0.1", server.port());
  Result<ClientResponse> before = kept.Send(verb::get, "/v1/keys/a");
  ASSERT_TRUE(before) << before.error().message();
  EXPECT_NE(before->headers[field::connection], "close");

  server.server().Drain();
  EXPECT_TRUE(server.server().draining());
  // The kept-alive connection is answered, with Connection: close, and closed after it.
  Result<ClientResponse> during = kept.Send(verb::get, "/v1/keys/b");
  ASSERT_TRUE(during) << during.error().message();
  EXPECT_EQ(during->status, 200u);
  EXPECT_EQ(during->headers[field::connection], "close");
  ASSERT_TRUE(kept.Send(verb::get, "/v1/keys/c"));
  EXPECT_EQ(kept.connects(), 2u) << "the draining server kept the connection open";
  // New connections are still accepted and served.
  HttpClient fresh("127.0.0.1", server.port());
  Result<ClientResponse> r = fresh.Send(verb::get, "/v1/keys/d");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(JsonField(r->body, "id"), "d");
  EXPECT_EQ(r->headers[field::connection], "close");
  EXPECT_FALSE(server.stopped());

  server.server().Stop(30s);
  EXPECT_TRUE(server.WaitStopped(10s));
}

TEST_F(HttpServerLifecycleTest, StopClosesIdleKeepAliveConnectionsAtOnce) {
  TestServer server(router_);
  HttpClient client("127.0.0.1", server.port());
  ASSERT_TRUE(client.Send(verb::get, "/v1/keys/a"));
  ASSERT_TRUE(client.connected());
  server.server().Stop(60s);
  // Far below the grace: the idle connection did not hold the server up.
  EXPECT_TRUE(server.WaitStopped(10s));
}

TEST_F(HttpServerLifecycleTest, ForcedCloseAfterGraceCancelsStuckHandlers) {
  TestServer server(router_);
  auto pending = std::async(std::launch::async, [port = server.port()] {
    HttpClient client("127.0.0.1", port);
    return client.Send(verb::get, "/stuck", {}, {}, 20s);
  });
  ASSERT_TRUE(PollUntil([&] { return stuck_entered_.load(); }));
  server.server().Stop(100ms);

  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(pending.get());  // closed without a response
  EXPECT_TRUE(server.WaitStopped(10s));
  EXPECT_TRUE(stuck_cancelled_.load());
}

TEST_F(HttpServerLifecycleTest, StopBeforeRunMakesRunReturn) {
  Logger logger(LogLevel::kOff);
  HttpServer server(TestOptions(), router_, logger);
  ASSERT_TRUE(server.Start());
  server.Stop(1s);
  server.Stop(1s);  // idempotent
  auto run = std::async(std::launch::async, [&] { server.Run(); });
  EXPECT_EQ(run.wait_for(10s), std::future_status::ready);
}

TEST_F(HttpServerLifecycleTest, ConnectionsOverTheLimitAreClosed) {
  HttpServerOptions options = TestOptions();
  options.max_connections = 1;
  TestServer server(router_, options);
  HttpClient first("127.0.0.1", server.port());
  ASSERT_TRUE(first.Send(verb::get, "/v1/keys/a"));

  HttpClient second("127.0.0.1", server.port());
  Result<std::string> raw = second.SendRaw("GET /v1/keys/b HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(raw) << raw.error().message();
  EXPECT_EQ(*raw, "");

  // The first connection is unaffected; once it is gone, a new one is accepted.
  Result<ClientResponse> r = first.Send(verb::get, "/v1/keys/c");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(first.connects(), 1u);
  first.Disconnect();
  EXPECT_TRUE(PollUntil([&] {
    HttpClient third("127.0.0.1", server.port());
    Result<ClientResponse> again = third.Send(verb::get, "/v1/keys/d", {}, {}, 2s);
    return again && again->status == 200u;
  }));
}

TEST_F(HttpServerLifecycleTest, ConcurrentClientsAreAllAnswered) {
  TestServer server(router_);
  constexpr int kThreads = 8;
  constexpr int kRequests = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client("127.0.0.1", server.port());
      for (int i = 0; i < kRequests; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        Result<ClientResponse> r = client.Send(verb::get, "/v1/keys/" + id);
        if (r && r->status == 200u && JsonField(r->body, "id") == id) ++ok;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
}

}  // namespace
}  // namespace keycache
