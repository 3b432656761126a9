// Graceful shutdown the way load balancers expect (KEYCACHE_DRAIN, KEYCACHE_SHUTDOWN_GRACE): the
// real keycached over real sockets, signalled as an orchestrator would.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "integration/integration_util.h"

namespace keycache::testing {
namespace {

namespace asio = boost::asio;

bool Refuses(std::uint16_t port) {
  asio::io_context ioc;
  asio::ip::tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  return ec == asio::error::connection_refused;
}

bool Contains(const std::string& log, std::string_view what) {
  return log.find(what) != std::string::npos;
}

// Exit without sending another signal (a third one could land after the handler is gone).
int WaitForExit(KeycachedProcess& server) {
  EXPECT_TRUE(PollUntil([&] { return !server.running(); }, 30s)) << server.log();
  return server.last_exit();
}

TEST(IntegDrain, ServesDuringTheDrainThenFinishesInFlightWorkAndExitsZero) {
  // A long drain that the second SIGTERM ends; no periodic flush, so only the shutdown flush
  // can carry the usage into the store.
  KeycachedProcess server({{{"KEYCACHE_DRAIN", "60s"},
                            {"KEYCACHE_SHUTDOWN_GRACE", "30s"},
                            {"KEYCACHE_USAGE_FLUSH_INTERVAL", "1h"}},
                           std::nullopt});
  ASSERT_TRUE(server.Start());
  ApiClient api(server.port(), server.admin_token());
  const CreatedKey k = CreateKey(api, UniqueOwner("drain"));
  int valid = 0;

  // A keep-alive connection that verifies before the signal: kept open.
  ApiClient keep(server.port());
  Reply before = Verify(keep, k.key);
  ASSERT_EQ(before.Str("code"), "VALID") << before.Describe();
  ++valid;
  EXPECT_NE(before.Header("Connection"), "close");
  ASSERT_EQ(keep.http_client().connects(), 1u);

  // A request in flight across the whole shutdown: its header and half its body now, the rest
  // after the listener has closed.
  const std::string body = "{\"key\":\"" + k.key + "\"}";
  const std::size_t half = body.size() / 2;
  asio::io_context ioc;
  asio::ip::tcp::socket inflight(ioc);
  inflight.connect({asio::ip::make_address("127.0.0.1"), server.port()});
  asio::write(inflight,
              asio::buffer("POST /v1/keys/verify HTTP/1.1\r\nHost: t\r\n"
                           "Content-Type: application/json\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, half)));

  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  // Readiness turns 503 (polled: no timing is asserted) with a body that says why...
  Reply ready;
  ASSERT_TRUE(PollUntil([&] {
    ready = ApiClient(server.port()).Send(http::verb::get, "/health/ready");
    return ready.status == 503;
  })) << ready.Describe()
      << server.log();
  const boost::json::value* draining = Member(ready.json, {"draining"});
  ASSERT_NE(draining, nullptr) << ready.Describe();
  EXPECT_EQ(*draining, boost::json::value(true)) << ready.Describe();
  EXPECT_TRUE(Contains(ready.Str("reason"), "draining")) << ready.Describe();
  // ...while liveness and verification still answer on new connections.
  EXPECT_EQ(ApiClient(server.port()).Send(http::verb::get, "/health/live").status, 200u);
  ApiClient fresh(server.port());
  const Reply during = Verify(fresh, k.key);
  EXPECT_EQ(during.Str("code"), "VALID") << during.Describe();
  if (during.Str("code") == "VALID") ++valid;
  EXPECT_EQ(during.Header("Connection"), "close") << during.Describe();

  // The kept-alive connection gets its answer with Connection: close, and is closed after it:
  // the next request needs a new connection.
  const Reply last = Verify(keep, k.key);
  EXPECT_EQ(last.Str("code"), "VALID") << last.Describe();
  if (last.Str("code") == "VALID") ++valid;
  EXPECT_EQ(last.Header("Connection"), "close") << last.Describe();
  EXPECT_EQ(ApiClient(server.port()).Send(http::verb::get, "/health/live").status, 200u);
  EXPECT_EQ(keep.Send(http::verb::get, "/health/live").status, 200u);
  EXPECT_EQ(keep.http_client().connects(), 2u) << "the drained connection was not closed";
  EXPECT_TRUE(server.running());

  // The second signal ends the drain: the listener closes...
  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  EXPECT_TRUE(PollUntil([&] { return Refuses(server.port()); })) << server.log();
  // ...and the request in flight still completes.
  asio::write(inflight, asio::buffer(body.substr(half)));
  std::string response;
  boost::system::error_code read_ec;
  asio::read(inflight, asio::dynamic_buffer(response), read_ec);  // until the server closes
  std::string response_body;
  EXPECT_EQ(RawStatus(response, &response_body), 200u) << response << "\n" << server.log();
  EXPECT_TRUE(Contains(response_body, "\"VALID\"")) << response;
  if (Contains(response_body, "\"VALID\"")) ++valid;
  EXPECT_TRUE(Contains(response, "Connection: close")) << response;

  EXPECT_EQ(WaitForExit(server), 0) << server.log();
  const std::string log = server.log();
  for (const char* phase : {"shutdown_requested", "drain_started", "drain_skipped",
                            "listener_closing", "requests_finished", "stopped"}) {
    EXPECT_TRUE(Contains(log, phase)) << phase << " not logged:\n" << log;
  }
  for (const char* bad : {"AddressSanitizer", "runtime error:", " ERROR "}) {
    EXPECT_FALSE(Contains(log, bad)) << log;
  }

  // Every verification answered VALID, the in-flight one included, reached the store.
  ASSERT_TRUE(server.Start());
  ApiClient again(server.port(), server.admin_token());
  EXPECT_EQ(RequestCount(again, k.id), valid);
  // Same 60 s drain: the second signal (once the first has been handled) ends it.
  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  EXPECT_TRUE(PollUntil([&] {
    return ApiClient(server.port()).Send(http::verb::get, "/health/ready").status == 503;
  })) << server.log();
  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  EXPECT_EQ(WaitForExit(server), 0) << server.log();
}

TEST(IntegDrain, TheDrainEndsByItselfAndAZeroDrainStopsAtOnce) {
  KeycachedProcess server({{{"KEYCACHE_DRAIN", "300ms"}}, std::nullopt});
  ASSERT_TRUE(server.Start());
  ASSERT_EQ(::kill(server.pid(), SIGINT), 0);
  EXPECT_EQ(WaitForExit(server), 0) << server.log();
  EXPECT_TRUE(Contains(server.log(), "drain_started")) << server.log();
  EXPECT_TRUE(Contains(server.log(), "drain_ended")) << server.log();

  // KEYCACHE_DRAIN=0 (the harness default): no drain phase at all.
  KeycachedProcess plain;
  ASSERT_TRUE(plain.Start());
  ExpectCleanStop(plain);
  EXPECT_FALSE(Contains(plain.log(), "drain_started")) << plain.log();
  EXPECT_TRUE(Contains(plain.log(), "listener_closing")) << plain.log();
}

}  // namespace
}  // namespace keycache::testing
