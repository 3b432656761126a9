// The real keycached on PostgreSQL (DATABASE_URL=postgresql://...), against a real server the
// test starts: a key's life over HTTP, a restart of the service on the same database, the
// readiness probe following the database down and back up, and TLS with sslmode=verify-full.
#include <gtest/gtest.h>

#include "integration/integration_util.h"
#include "support/pg_session.h"
#include "support/postgres_server_process.h"
#include "support/test_certs.h"

namespace keycache::testing {
namespace {

EnvVars PgEnv(const PostgresServerProcess& pg) {
  return {{"DATABASE_URL", pg.Url("keycache")},
          {"ADMIN_TOKEN", "integ-admin-token-0123456789"},
          {"KEYCACHE_PEPPER", "integ-pepper-0123456789abcdefghijklmnopqrstuv"},
          {"KEYCACHE_DB_TIMEOUT", "2s"}};
}

class IntegPostgres : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pg_.Start());
    ASSERT_TRUE(pg_.CreateDatabase("keycache"));
  }

  PostgresServerProcess pg_;
};

TEST_F(IntegPostgres, CreateVerifyRevokeVerifyAndTheKeysOutliveARestart) {
  KeycachedProcess server(KeycachedOptions{PgEnv(pg_), std::nullopt});
  ASSERT_TRUE(server.Start());
  ExpectHealthy(server.port());
  ApiClient api(server.port(), server.admin_token());

  const CreatedKey k = CreateKey(api, UniqueOwner("pg"), {"reports:read"});
  const CreatedKey other = CreateKey(api, UniqueOwner("pg"));
  const Reply valid = Verify(api, k.key, {"reports:read"});
  EXPECT_EQ(valid.Str("code"), "VALID") << valid.Describe();

  const Reply revoked =
      api.Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", R"({"reason":"leaked"})");
  ASSERT_EQ(revoked.status, 200u) << revoked.Describe();
  EXPECT_EQ(revoked.Str("state"), "revoked");
  const Reply refused = Verify(api, k.key);
  EXPECT_EQ(refused.Str("code"), "REVOKED") << refused.Describe();
  EXPECT_EQ(refused.Object().at("valid"), false);
  ExpectCleanStop(server);

  // A new process on the same database: the store, not a cache, answers.
  ASSERT_TRUE(server.Start());
  ApiClient again(server.port(), server.admin_token());
  EXPECT_EQ(Verify(again, k.key).Str("code"), "REVOKED");
  EXPECT_EQ(Verify(again, other.key).Str("code"), "VALID");
  ExpectCleanStop(server);
}

TEST_F(IntegPostgres, ReadinessFollowsTheDatabaseDownAndBackUp) {
  KeycachedProcess server(KeycachedOptions{PgEnv(pg_), std::nullopt});
  ASSERT_TRUE(server.Start());
  ApiClient api(server.port(), server.admin_token());
  pg_.Stop();
  EXPECT_TRUE(PollUntil([&] { return api.Send(http::verb::get, "/health/ready").status == 503; }))
      << server.log();
  ASSERT_TRUE(pg_.Start());
  EXPECT_TRUE(PollUntil([&] { return api.Send(http::verb::get, "/health/ready").status == 200; }))
      << server.log();
  const CreatedKey k = CreateKey(api, UniqueOwner("pg"));
  EXPECT_EQ(Verify(api, k.key).Str("code"), "VALID");
  server.Stop();
}

// KEYCACHE_DB_PIPELINE (on by default): each HTTP thread holds a connection of its own
// (`keycached-reader`), and a verification that misses every cache reads the key there, not on
// the pool's connections. Switched off, there are no such sessions and the pool reads.
TEST_F(IntegPostgres, VerificationMissesReadOnEachHttpThreadsOwnConnection) {
  PgSession admin(pg_.Url());
  const std::string readers =
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'keycached-reader'";
  // When each reader session last ran a statement.
  const std::string last_used =
      "SELECT string_agg(pid || '@' || query_start, ',' ORDER BY pid) FROM pg_stat_activity"
      " WHERE application_name = 'keycached-reader'";
  EnvVars env = PgEnv(pg_);
  env["KEYCACHE_THREADS"] = "2";
  env["API_KEY_CACHE_ENABLED"] = "false";  // every verification reads the store
  {
    KeycachedProcess server(KeycachedOptions{env, std::nullopt});
    ASSERT_TRUE(server.Start());
    ApiClient api(server.port(), server.admin_token());
    EXPECT_TRUE(PollUntil([&] { return admin.Text(readers) == "2"; })) << admin.Text(readers);
    const CreatedKey k = CreateKey(api, UniqueOwner("pipe"), {"reports:read"});
    const std::string before = admin.Text(last_used);
    // Over fresh connections, so that both HTTP threads take some.
    for (int i = 0; i < 8; ++i) {
      ApiClient once(server.port(), server.admin_token());
      const Reply v = Verify(once, k.key, {"reports:read"});
      EXPECT_EQ(v.Str("code"), "VALID") << v.Describe() << server.log();
    }
    EXPECT_NE(admin.Text(last_used), before) << before;
    // A revocation is seen on the next verification: the reader's session reads committed data.
    ASSERT_EQ(api.Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", "{}").status, 200u);
    EXPECT_EQ(Verify(api, k.key).Str("code"), "REVOKED");
    ExpectCleanStop(server);
  }
  env["KEYCACHE_DB_PIPELINE"] = "false";
  KeycachedProcess server(KeycachedOptions{env, std::nullopt});
  ASSERT_TRUE(server.Start());
  ApiClient api(server.port(), server.admin_token());
  const CreatedKey k = CreateKey(api, UniqueOwner("pipe"));
  EXPECT_EQ(Verify(api, k.key).Str("code"), "VALID");
  EXPECT_EQ(admin.Text(readers), "0");
  ExpectCleanStop(server);
}

TEST(IntegPostgresTls, VerifyFullConnectsOverTlsAndAServerFromAnotherCaIsRefused) {
  TempDir certs;
  const TestPki pki = MakeTestPki(certs.path());
  ASSERT_TRUE(pki.ok) << pki.error;
  PostgresServerProcess pg(
      PostgresServerOptions{.tls = PostgresServerOptions::Tls{pki.server_cert, pki.server_key}});
  ASSERT_TRUE(pg.Start());
  ASSERT_TRUE(pg.CreateDatabase("keycache"));

  EnvVars env = PgEnv(pg);
  env["DATABASE_URL"] = pg.Url("keycache") + "?sslmode=verify-full&sslrootcert=" + pki.ca_cert;
  KeycachedProcess server(KeycachedOptions{env, std::nullopt});
  ASSERT_TRUE(server.Start());
  ApiClient api(server.port(), server.admin_token());
  const CreatedKey k = CreateKey(api, UniqueOwner("tls"));
  EXPECT_EQ(Verify(api, k.key).Str("code"), "VALID");
  // Every session keycached holds is encrypted, the HTTP threads' own ones too.
  PgSession admin(pg.Url());
  EXPECT_TRUE(PollUntil([&] {
    return admin.Text(
               "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
               " WHERE a.application_name = 'keycached-reader' AND s.ssl") != "0";
  }));
  EXPECT_EQ(admin.Text("SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
                       " WHERE a.application_name LIKE 'keycached%' AND NOT s.ssl"),
            "0");
  EXPECT_NE(admin.Text("SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
                       " WHERE a.application_name = 'keycached' AND s.ssl"),
            "0");
  ExpectCleanStop(server);

  // The same server, checked against a CA that did not sign its certificate: no start.
  env["DATABASE_URL"] =
      pg.Url("keycache") + "?sslmode=verify-full&sslrootcert=" + pki.other_ca_cert;
  KeycachedProcess refused(KeycachedOptions{env, std::nullopt});
  EXPECT_FALSE(refused.Start(std::chrono::seconds(10)));
  EXPECT_NE(refused.log().find("cannot open the PostgreSQL database"), std::string::npos)
      << refused.log();
  EXPECT_EQ(refused.log().find(PostgresServerOptions{}.password), std::string::npos);
}

}  // namespace
}  // namespace keycache::testing
