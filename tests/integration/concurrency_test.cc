// Several clients at once against one keycached: usage stays exact, a revocation is final for
// every request that starts after it returned, and keep-alive connections survive refusals.
// Loops are bounded in count; nothing is asserted on time.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "integration/integration_util.h"

namespace keycache::testing {
namespace {

class IntegConcurrency : public ServerTest<IntegConcurrency> {};

constexpr int kThreads = 4;

TEST_F(IntegConcurrency, UsageIsExactUnderConcurrentVerification) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("parallel"), {"reports:read"});
  constexpr int kPerThread = 25;
  std::atomic<int> valid{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, port = server().port()] {
      ApiClient client(port);
      for (int i = 0; i < kPerThread; ++i) {
        const bool via_auth = (i % 2) == 1;
        const bool ok = via_auth ? Auth(client, k.key, "reports:read").status == 200
                                 : Verify(client, k.key, {"reports:read"}).Str("code") == "VALID";
        (ok ? valid : other).fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(valid.load(), kThreads * kPerThread);
  EXPECT_EQ(other.load(), 0);
  std::int64_t count = -1;
  EXPECT_TRUE(PollUntil([&] {
    return (count = RequestCount(api(), k.id)) == kThreads * kPerThread;
  })) << "request_count "
      << count << ", expected " << kThreads * kPerThread;
}

TEST_F(IntegConcurrency, NoVerificationStartedAfterARevokeReturnedIsAccepted) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("race"));
  constexpr int kMaxRequests = 3000;  // per thread, whatever happens
  constexpr int kAfterRevoke = 20;    // requests per thread once the revoke has returned
  std::atomic<bool> revoked{false};
  std::atomic<int> before{0}, accepted_after{0}, refused_after{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, port = server().port(), t] {
      ApiClient client(port);
      int after = 0;
      for (int i = 0; i < kMaxRequests && after < kAfterRevoke; ++i) {
        const bool started_after = revoked.load();
        const Reply r = (t % 2 == 0) ? Verify(client, k.key) : Auth(client, k.key);
        const std::string code = r.Str("code");
        if (!started_after) {
          if (code != "VALID" && code != "REVOKED") errors.fetch_add(1);
          before.fetch_add(1);
          continue;
        }
        ++after;
        if (code == "REVOKED") {
          refused_after.fetch_add(1);
        } else {
          accepted_after.fetch_add(1);
        }
      }
    });
  }
  // Let the clients warm the cache before revoking.
  EXPECT_TRUE(PollUntil([&] { return before.load() >= kThreads * 10; }));
  const Reply r = api().Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke");
  revoked.store(true);
  for (auto& t : threads) t.join();
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(accepted_after.load(), 0)
      << accepted_after.load()
      << " requests that started after the revoke returned were not REVOKED";
  EXPECT_EQ(refused_after.load(), kThreads * kAfterRevoke);
}

// Runs `request` on kThreads clients at once (each on its own connection) and returns the
// statuses.
template <class Request>
std::vector<unsigned> AllAtOnce(std::uint16_t port, const std::string& token, Request request) {
  std::vector<unsigned> statuses(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ApiClient client(port, token);
      client.Send(http::verb::get, "/health/live");  // connect before the start line
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      statuses[t] = request(client).status;
    });
  }
  for (auto& t : threads) t.join();
  return statuses;
}

TEST_F(IntegConcurrency, ConcurrentRotationsOfOneKeyProduceOneReplacement) {
  const std::string owner = UniqueOwner("rotations");
  const CreatedKey k = CreateKey(api(), owner);
  const auto statuses = AllAtOnce(server().port(), api().admin_token(), [&](ApiClient& c) {
    return c.Admin(http::verb::post, "/v1/keys/" + k.id + "/rotate", R"({"grace_seconds":60})");
  });
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201u), 1)
      << ::testing::PrintToString(statuses);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 409u), kThreads - 1)
      << ::testing::PrintToString(statuses);
  const Reply list = api().Admin(http::verb::get, "/v1/owners/" + owner + "/keys");
  EXPECT_EQ(list.Object().at("count"), 2) << "one key and one replacement: " << list.Describe();
}

TEST_F(IntegConcurrency, ConcurrentCreatesRespectTheOwnerLimit) {
  // KEYCACHE_MAX_KEYS_PER_OWNER is 50 here: fill to 50 - 2, then race kThreads creates.
  const std::string owner = UniqueOwner("limit-race");
  for (int i = 0; i < 48; ++i) CreateKey(api(), owner);
  const std::string body = ToJson(
      boost::json::object{{"owner_id", owner}, {"name", "n"}, {"scopes", boost::json::array()}});
  const auto statuses = AllAtOnce(server().port(), api().admin_token(), [&](ApiClient& c) {
    return c.Admin(http::verb::post, "/v1/keys", body);
  });
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201u), 2)
      << ::testing::PrintToString(statuses);
  const Reply list = api().Admin(http::verb::get, "/v1/owners/" + owner + "/keys");
  EXPECT_EQ(list.Object().at("count"), 50) << "live keys beyond the limit";
}

TEST_F(IntegConcurrency, KeepAliveConnectionSurvivesRefusals) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("keepalive"));
  ApiClient client(server().port(), api().admin_token());
  EXPECT_EQ(client.Send(http::verb::get, "/health/live").status, 200u);
  EXPECT_EQ(client.Send(http::verb::get, "/nope").status, 404u);
  EXPECT_EQ(client.Send(http::verb::put, "/health/live").status, 405u);
  EXPECT_EQ(client.Send(http::verb::get, "/v1/keys/" + k.id).status, 401u);
  EXPECT_EQ(client.Admin(http::verb::post, "/v1/keys", "{").status, 400u);
  EXPECT_EQ(client.Admin(http::verb::get, "/v1/keys/AAAAAAAAAAA").status, 404u);
  EXPECT_EQ(Auth(client, "garbage").status, 401u);
  EXPECT_EQ(Verify(client, k.key).Str("code"), "VALID");
  EXPECT_EQ(client.http_client().connects(), 1u) << "a refusal closed the keep-alive connection";

  // Pipelined requests on one connection are answered in order.
  const std::string raw = client.Raw(
      "GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /health/ready HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  const std::size_t first = raw.find("HTTP/1.1 200");
  const std::size_t second = raw.find("HTTP/1.1 404");
  const std::size_t third = raw.find("HTTP/1.1 200", first + 1);
  EXPECT_NE(first, std::string::npos) << raw;
  EXPECT_NE(second, std::string::npos) << raw;
  EXPECT_NE(third, std::string::npos) << raw;
  EXPECT_TRUE(first < second && second < third) << raw;
}

}  // namespace
}  // namespace keycache::testing
