// Three keycached instances on one PostgreSQL and no Redis: every change made on one instance
// (revoke, disable, delete, rotate, a new key in an owner's list, an admin invalidation) reaches
// the others' L1 over LISTEN/NOTIFY, and an instance whose LISTEN connection is ended stops
// answering from L1 until it listens again (docs/adr/0005).
// Behaviour, not timing: each check waits (bounded) until the other instance's channel shows the
// message arrived, then asserts what the next request answers.
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <memory>

#include "integration/integration_util.h"
#include "support/pg_session.h"
#include "support/postgres_server_process.h"

namespace keycache::testing {
namespace {

constexpr const char* kReceived = "keycache_pg_invalidations_received";

class PgNotifyCoherence : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pg_.Start());
    ASSERT_TRUE(pg_.CreateDatabase("keycache"));
    for (std::size_t i = 0; i < servers_.size(); ++i) {
      servers_[i] = std::make_unique<KeycachedProcess>(
          KeycachedOptions{Env("node-" + std::to_string(i)), std::nullopt});
      ASSERT_TRUE(servers_[i]->Start());
      apis_[i] = std::make_unique<ApiClient>(servers_[i]->port(), servers_[i]->admin_token());
    }
    for (auto& api : apis_) ASSERT_TRUE(WaitLease(*api, true)) << ChannelHealth(*api);
  }

  void TearDown() override {
    for (auto& s : servers_) {
      if (s) ExpectCleanStop(*s);
    }
  }

  EnvVars Env(const std::string& instance) const {
    return {{"DATABASE_URL", pg_.Url("keycache")},
            {"ADMIN_TOKEN", "integ-admin-token-0123456789"},
            {"KEYCACHE_PEPPER", "integ-pepper-0123456789abcdefghijklmnopqrstuv"},
            {"KEYCACHE_DB_TIMEOUT", "2s"},
            {"KEYCACHE_INSTANCE_ID", instance}};
  }

  static std::string ChannelHealth(ApiClient& api) {
    const Reply r = api.Send(http::verb::get, "/health/cache");
    const auto* channel = Member(r.json, {"cache", "postgresChannel"});
    return channel ? ToJson(*channel) : r.Describe();
  }

  static bool LeaseHeld(ApiClient& api) {
    const Reply r = api.Send(http::verb::get, "/health/cache");
    const auto* held = Member(r.json, {"cache", "postgresChannel", "coherenceLease", "held"});
    return held && held->is_bool() && held->as_bool();
  }

  static bool WaitLease(ApiClient& api, bool held) {
    return PollUntil([&] { return LeaseHeld(api) == held; }, 15s);
  }

  // Verifies `key` on every other instance until it is an L1 hit there (the key's creation is
  // announced too, and may arrive after a first fill and drop it).
  void CacheEverywhereBut(std::size_t origin, const std::string& key) {
    for (std::size_t i = 0; i < apis_.size(); ++i) {
      if (i == origin) continue;
      ASSERT_TRUE(HitEventually(*apis_[i], key)) << "node-" << i;
    }
  }

  static bool HitEventually(ApiClient& api, const std::string& key) {
    return PollUntil([&] {
      const Reply r = Verify(api, key);
      return r.Str("code") == "VALID" && r.Header("X-Cache-Status") == "HIT";
    });
  }

  std::array<double, 3> Received() {
    std::array<double, 3> r{};
    for (std::size_t i = 0; i < apis_.size(); ++i) r[i] = MetricValue(*apis_[i], kReceived);
    return r;
  }

  // Waits until every instance but `origin` applied a message from the channel since `before`.
  ::testing::AssertionResult WaitArrived(std::size_t origin, const std::array<double, 3>& before) {
    for (std::size_t i = 0; i < apis_.size(); ++i) {
      if (i == origin) continue;
      if (!PollUntil([&] { return MetricValue(*apis_[i], kReceived) > before[i]; }, 15s)) {
        return ::testing::AssertionFailure()
               << "node-" << i << " heard nothing: " << ChannelHealth(*apis_[i]);
      }
    }
    return ::testing::AssertionSuccess();
  }

  ApiClient& api(std::size_t i) { return *apis_[i]; }

  PostgresServerProcess pg_;
  std::array<std::unique_ptr<KeycachedProcess>, 3> servers_;
  std::array<std::unique_ptr<ApiClient>, 3> apis_;
};

TEST_F(PgNotifyCoherence, EveryKindOfChangeOnOneInstanceIsRefusedByTheOthersOnceItArrives) {
  struct Case {
    std::string name;
    std::function<Reply(ApiClient&, const std::string& id)> change;
    unsigned status;
    std::string refused;  // the code the other instances must answer afterwards
  };
  const std::vector<Case> cases = {
      {"revoke",
       [](ApiClient& a, const std::string& id) {
         return a.Admin(http::verb::post, "/v1/keys/" + id + "/revoke", R"({"reason":"leaked"})");
       },
       200, "REVOKED"},
      {"disable",
       [](ApiClient& a, const std::string& id) {
         return a.Admin(http::verb::patch, "/v1/keys/" + id, R"({"enabled":false})");
       },
       200, "DISABLED"},
      {"delete",
       [](ApiClient& a, const std::string& id) {
         return a.Admin(http::verb::delete_, "/v1/keys/" + id);
       },
       200, "NOT_FOUND"},
      {"rotate",
       [](ApiClient& a, const std::string& id) {
         return a.Admin(http::verb::post, "/v1/keys/" + id + "/rotate", R"({"grace_seconds":0})");
       },
       201, "REVOKED"},
  };
  std::size_t origin = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name + " on node-" + std::to_string(origin));
    const CreatedKey k = CreateKey(api(origin), UniqueOwner("pgn-" + c.name));
    ASSERT_NO_FATAL_FAILURE(CacheEverywhereBut(origin, k.key));
    const auto before = Received();
    const Reply done = c.change(api(origin), k.id);
    ASSERT_EQ(done.status, c.status) << done.Describe();
    ASSERT_TRUE(WaitArrived(origin, before));
    for (std::size_t i = 0; i < 3; ++i) {
      const Reply r = Verify(api(i), k.key);
      EXPECT_EQ(r.Str("code"), c.refused) << "node-" << i << ": " << r.Describe();
    }
    origin = (origin + 1) % 3;
  }
  // The lag was measured on the receiving side.
  EXPECT_GE(MetricValue(api(1), "keycache_invalidation_propagation_pg_seconds_count"), 1);
}

TEST_F(PgNotifyCoherence, OwnerListsAndAdminInvalidationsReachTheOtherInstances) {
  const std::string owner = UniqueOwner("pgn-list");
  const CreatedKey first = CreateKey(api(0), owner);
  const std::string path = "/v1/owners/" + owner + "/keys";
  Reply cached;
  ASSERT_TRUE(PollUntil([&] {
    cached = api(1).Admin(http::verb::get, path);
    return cached.Header("X-Cache-Status") == "HIT";
  })) << cached.Describe();
  ASSERT_EQ(cached.Object().at("count"), 1);

  auto before = Received();
  CreateKey(api(0), owner);
  ASSERT_TRUE(WaitArrived(0, before));
  const Reply listed = api(1).Admin(http::verb::get, path);
  EXPECT_EQ(listed.Object().at("count"), 2) << listed.Describe();

  // An administrator's invalidation on node-2 drops node-1's cached entry.
  ASSERT_NO_FATAL_FAILURE(CacheEverywhereBut(2, first.key));
  before = Received();
  const Reply inv = api(2).Admin(http::verb::post, "/admin/cache/invalidate",
                                 R"({"key_id":")" + first.id + "\"}");
  ASSERT_EQ(inv.status, 200u) << inv.Describe();
  ASSERT_TRUE(WaitArrived(2, before));
  EXPECT_EQ(Verify(api(1), first.key).Header("X-Cache-Status"), "MISS");
}

// POST /admin/cache/warm on node-0 asks the others over NOTIFY: node-1 then answers the warmed
// keys from L1, without a store read.
TEST_F(PgNotifyCoherence, AWarmUpOnOneInstanceWarmsTheOthers) {
  std::vector<CreatedKey> keys;
  for (int i = 0; i < 3; ++i) keys.push_back(CreateKey(api(0), UniqueOwner("pgn-warm")));
  ASSERT_EQ(api(0).Admin(http::verb::post, "/admin/cache/invalidate", "{}").status, 200u);
  const auto warm_ups = [&](std::size_t i) {  // "cache_warmed" lines in the log
    const std::string log = servers_[i]->log();
    std::size_t n = 0;
    for (std::size_t at = 0; (at = log.find(" cache_warmed ", at)) != std::string::npos; ++at) ++n;
    return n;
  };
  const std::size_t before = warm_ups(1);
  const Reply warmed = api(0).Admin(http::verb::post, "/admin/cache/warm");
  ASSERT_EQ(warmed.status, 200u) << warmed.Describe();
  EXPECT_EQ(warmed.Str("other_instances"), "asked") << warmed.Describe();
  ASSERT_TRUE(PollUntil([&] { return warm_ups(1) > before; }))
      << "node-1 never warmed: " << servers_[1]->log();
  const double reads = MetricValue(api(1), "keycache_store_reads_total");
  ASSERT_GE(reads, 0);
  for (const CreatedKey& k : keys) {
    const Reply r = Verify(api(1), k.key);
    EXPECT_EQ(r.Str("code"), "VALID") << r.Describe();
    EXPECT_EQ(r.Header("X-Cache-Status"), "HIT") << r.Describe();
  }
  EXPECT_EQ(MetricValue(api(1), "keycache_store_reads_total"), reads);
}

TEST_F(PgNotifyCoherence, AnInstanceWhoseListenConnectionEndsStopsAnsweringFromL1UntilItListens) {
  const CreatedKey k = CreateKey(api(0), UniqueOwner("pgn-kill"));
  ASSERT_NO_FATAL_FAILURE(CacheEverywhereBut(0, k.key));
  PgSession admin(pg_.Url("keycache"));
  const double losses = MetricValue(api(1), "keycache_pg_notify_losses");
  ASSERT_GE(losses, 0);
  // node-1's LISTEN session, told apart by its application_name.
  const std::string pid = admin.Text(
      "SELECT pid FROM pg_stat_activity WHERE application_name = 'keycached-listen/node-1'");
  ASSERT_NE(pid.find_first_not_of("0123456789"), 0u) << pid;
  ASSERT_EQ(admin.Text("SELECT pg_terminate_backend(" + pid + ")"), "t");
  ASSERT_TRUE(
      PollUntil([&] { return MetricValue(api(1), "keycache_pg_notify_losses") > losses; }, 15s))
      << ChannelHealth(api(1));
  // Whatever the channel may have missed, node-1's L1 no longer answers: the database does.
  const Reply after = Verify(api(1), k.key);
  EXPECT_EQ(after.Str("code"), "VALID");
  EXPECT_EQ(after.Header("X-Cache-Status"), "MISS") << after.Describe();
  // It listens again by itself and, once its lease is back, serves from L1 again.
  ASSERT_TRUE(WaitLease(api(1), true)) << ChannelHealth(api(1));
  // One LISTEN session again (the ended one may take a moment to leave pg_stat_activity).
  EXPECT_TRUE(PollUntil([&] {
    return admin.Text(
               "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
               "'keycached-listen/node-1'") == "1";
  }));
  EXPECT_TRUE(HitEventually(api(1), k.key));
  // And it hears changes again.
  const auto before = Received();
  ASSERT_EQ(api(0).Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", "{}").status, 200u);
  ASSERT_TRUE(WaitArrived(0, before));
  EXPECT_EQ(Verify(api(1), k.key).Str("code"), "REVOKED");
}

TEST(PgNotifyOff, WithKeycachePgNotifyFalseThereIsNoChannel) {
  PostgresServerProcess pg;
  ASSERT_TRUE(pg.Start());
  ASSERT_TRUE(pg.CreateDatabase("keycache"));
  KeycachedProcess server(
      KeycachedOptions{{{"DATABASE_URL", pg.Url("keycache")},
                        {"ADMIN_TOKEN", "integ-admin-token-0123456789"},
                        {"KEYCACHE_PEPPER", "integ-pepper-0123456789abcdefghijklmnopqrstuv"},
                        {"KEYCACHE_PG_NOTIFY", "false"}},
                       std::nullopt});
  ASSERT_TRUE(server.Start());
  ApiClient api(server.port(), server.admin_token());
  const Reply h = api.Send(http::verb::get, "/health/cache");
  EXPECT_EQ(Member(h.json, {"cache", "postgresChannel"}), nullptr) << h.Describe();
  PgSession admin(pg.Url("keycache"));
  EXPECT_EQ(admin.Text("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE "
                       "'keycached-listen%'"),
            "0");
  EXPECT_NE(server.log().find("pg_notify_off"), std::string::npos);
  server.Stop();
}

}  // namespace
}  // namespace keycache::testing
