// Several keycached processes on one SQLite file: allowed when every one hears the others'
// changes (REDIS_HOST) or keeps no cache; refused at start-up, with a message, when one of them
// would cache keys without hearing of the others' revocations (it would go on accepting them
// until its L1 entries expired).
#include <gtest/gtest.h>

#include "integration/integration_util.h"
#include "integration/redis_tier_util.h"

namespace keycache::testing {
namespace {

using namespace std::chrono_literals;

EnvVars OnFile(const std::filesystem::path& db, EnvVars extra = {}) {
  EnvVars env = DefaultServerEnv();
  env["ADMIN_TOKEN"] = kSharedToken;
  env["KEYCACHE_PEPPER"] = kSharedPepper;
  env["DATABASE_URL"] = "sqlite:" + db.string();
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

void ExpectRefused(const RunResult& r, const std::string& context) {
  SCOPED_TRACE(context);
  ASSERT_FALSE(r.timed_out) << "the second instance started:\n" << r.err;
  EXPECT_GT(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("DATABASE_URL"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("REDIS_HOST"), std::string::npos) << "names the remedy: " << r.err;
}

TEST(SharedSqliteFile, ASecondInstanceThatWouldServeStaleAnswersIsRefused) {
  TempDir dir;
  const auto db = dir.path() / "k.db";
  KeycachedProcess first({OnFile(db), std::nullopt});
  ASSERT_TRUE(first.Start());
  ApiClient api(first.port(), kSharedToken);
  const CreatedKey k = CreateKey(api, UniqueOwner("shared-file"));

  // A second caching instance without Redis, and instances that would be coherent themselves
  // but share the file with the first (which hears nobody): all refused.
  TempDir work;
  ExpectRefused(RunKeycached({"serve"}, OnFile(db), work.path(), 20s), "both cache alone");
  ExpectRefused(
      RunKeycached({"serve"}, OnFile(db, {{"API_KEY_CACHE_ENABLED", "false"}}), work.path(), 20s),
      "second without cache");
  // The first instance kept serving through all of it.
  EXPECT_EQ(Verify(api, k.key).Str("code"), "VALID");

  // Once the first is gone, another takes its place on the same file.
  ExpectCleanStop(first);
  KeycachedProcess next({OnFile(db), std::nullopt});
  ASSERT_TRUE(next.Start());
  ApiClient next_api(next.port(), kSharedToken);
  EXPECT_EQ(Verify(next_api, k.key).Str("code"), "VALID");
  ExpectCleanStop(next);
}

TEST(SharedSqliteFile, InstancesWithoutACacheShareTheFile) {
  TempDir dir;
  const auto db = dir.path() / "k.db";
  const EnvVars bypass = OnFile(db, {{"API_KEY_CACHE_ENABLED", "false"}});
  KeycachedProcess a({bypass, std::nullopt});
  KeycachedProcess b({bypass, std::nullopt});
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(b.Start());
  ApiClient api_a(a.port(), kSharedToken), api_b(b.port(), kSharedToken);
  const CreatedKey k = CreateKey(api_a, UniqueOwner("shared-bypass"));
  EXPECT_EQ(Verify(api_b, k.key).Str("code"), "VALID");
  ASSERT_EQ(api_b.Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke").status, 200u);
  EXPECT_EQ(Verify(api_a, k.key).Str("code"), "REVOKED");
  // A caching instance without Redis cannot join them.
  TempDir work;
  ExpectRefused(RunKeycached({"serve"}, OnFile(db), work.path(), 20s), "a caching third");
  ExpectCleanStop(a);
  ExpectCleanStop(b);
}

TEST(SharedSqliteFile, InstancesSharingRedisShareTheFile) {
  SharedRedisDeployment deployment;
  ASSERT_TRUE(deployment.StartRedis());
  KeycachedProcess* a = deployment.AddInstance();
  KeycachedProcess* b = deployment.AddInstance();
  ASSERT_TRUE(a && b);
  auto api_a = SharedRedisDeployment::Client(*a);
  auto api_b = SharedRedisDeployment::Client(*b);
  const CreatedKey k = CreateKey(*api_a, UniqueOwner("shared-redis"));
  EXPECT_EQ(Verify(*api_b, k.key).Str("code"), "VALID");
  ASSERT_EQ(api_b->Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke").status, 200u);
  EXPECT_EQ(Verify(*api_a, k.key).Str("code"), "REVOKED");

  // The same file without REDIS_HOST, caching: refused while they run.
  EnvVars alone = DefaultServerEnv();
  for (const auto& [k, v] : deployment.InstanceEnv()) {
    if (!k.starts_with("REDIS_")) alone[k] = v;
  }
  TempDir work;
  ExpectRefused(RunKeycached({"serve"}, alone, work.path(), 20s), "a third without Redis");
}

}  // namespace
}  // namespace keycache::testing
