// The runbook scripts (scripts/*.sh, docs/operations.md) against a real redis-server started
// from the shipped hardened deploy/redis/redis.conf and a real keycached using it as the
// `keycache` ACL user: validate-deployment, backup -> wipe -> restore, backup-redis,
// emergency-cache-reset, restore-cache, capacity-planning, and their error paths (wrong token,
// Redis down, missing arguments), each exiting non-zero with a message.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "integration/integration_util.h"
#include "integration/script_runner.h"
#include "support/pg_session.h"
#include "support/postgres_server_process.h"
#include "support/redis_config_rewrite.h"
#include "support/redis_faults.h"
#include "support/redis_server_process.h"

namespace keycache::testing {
namespace {

const std::string kDeployDir = KEYCACHE_SOURCE_DIR "/deploy/redis";
const std::string kPrefix = "cache:apikeys:";

std::string Acl() { return ReadTextFile(kDeployDir + "/users.acl"); }

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Every key under the prefix (SCAN as the admin user).
std::vector<std::string> KeysUnderPrefix(RedisServerProcess& redis) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    auto r = RedisCommand(redis, {"SCAN", cursor, "MATCH", kPrefix + "*", "COUNT", "1000"});
    if (!r || !r->is_array() || r->elements.size() != 2) {
      ADD_FAILURE() << "SCAN failed";
      break;
    }
    cursor = r->elements[0].str;
    for (const auto& e : r->elements[1].elements) keys.push_back(e.str);
  } while (cursor != "0");
  return keys;
}

// keys under the prefix that are not heartbeats of running instances.
std::vector<std::string> CacheEntries(RedisServerProcess& redis) {
  std::vector<std::string> out;
  for (auto& k : KeysUnderPrefix(redis)) {
    if (!k.starts_with(kPrefix + "hb:")) out.push_back(k);
  }
  return out;
}

// The integer after "name: " in a script's report; -1 when absent.
long long Figure(const std::string& output, const std::string& name) {
  const auto at = output.find("\n" + name + ": ");
  if (at == std::string::npos) return -1;
  return std::atoll(output.c_str() + at + name.size() + 3);
}

class RunbookScripts : public ::testing::Test {
 protected:
  void SetUp() override {
    RedisServerOptions o;
    o.base_config = kDeployDir + "/redis.conf";  // the shipped hardened configuration
    o.password = AclPassword(Acl(), "default");
    o.extra_config = {"aclfile " + kDeployDir + "/users.acl"};
    redis_ = std::make_unique<RedisServerProcess>(o);
    ASSERT_TRUE(redis_->Start());
    EnvVars env = RedisEnv();
    env["KEYCACHE_USAGE_FLUSH_INTERVAL"] = "100ms";
    server_ = std::make_unique<KeycachedProcess>(KeycachedOptions{env, std::nullopt});
    ASSERT_TRUE(server_->Start());
    api_ = std::make_unique<ApiClient>(server_->port(), server_->admin_token());
  }
  void TearDown() override {
    if (server_ && server_->running()) ExpectCleanStop(*server_);
  }

  // keycached's Redis variables: the service's ACL user.
  EnvVars RedisEnv() const {
    return {{"REDIS_HOST", "127.0.0.1"},
            {"REDIS_PORT", std::to_string(redis_->port())},
            {"REDIS_USERNAME", "keycache"},
            {"REDIS_PASSWORD", AclPassword(Acl(), "keycache")},
            {"REDIS_KEY_PREFIX", kPrefix}};
  }
  // What an operator's shell has: the Redis variables, the instance's URL, the admin token.
  EnvVars OperatorEnv() const {
    EnvVars env = RedisEnv();
    env["KEYCACHE_URL"] = server_->url();
    env["ADMIN_TOKEN"] = server_->admin_token();
    return env;
  }
  ScriptRun Run(const std::string& name, const std::vector<std::string>& args = {},
                const EnvVars& env = {}) {
    return RunScript(name, args, env.empty() ? OperatorEnv() : env, server_->workdir());
  }
  std::vector<CreatedKey> PopulatedKeys(int n) {
    std::vector<CreatedKey> keys;
    const std::string owner = UniqueOwner("runbook");
    for (int i = 0; i < n; ++i) {
      keys.push_back(CreateKey(*api_, owner, {"reports:read"}));
      EXPECT_EQ(Verify(*api_, keys.back().key).Str("code"), "VALID");
    }
    return keys;
  }

  std::unique_ptr<RedisServerProcess> redis_;
  std::unique_ptr<KeycachedProcess> server_;
  std::unique_ptr<ApiClient> api_;
};

TEST_F(RunbookScripts, EveryScriptHasHelpAndRefusesBadArguments) {
  for (const std::string name :
       {"validate-deployment.sh", "backup.sh", "restore.sh", "backup-redis.sh", "restore-cache.sh",
        "emergency-cache-reset.sh", "capacity-planning.sh"}) {
    const ScriptRun help = Run(name, {"--help"});
    EXPECT_EQ(help.exit_code, 0) << name << help.output;
    EXPECT_TRUE(Contains(help.output, "Usage: " + name)) << help.output;
    EXPECT_TRUE(Contains(help.output, "Exit codes")) << help.output;
    const ScriptRun bad = Run(name, {"--no-such-option"});
    EXPECT_EQ(bad.exit_code, 2) << name << bad.output;
    EXPECT_TRUE(Contains(bad.output, "unknown argument: --no-such-option")) << bad.output;
  }
  const ScriptRun no_out = Run("backup.sh");
  EXPECT_EQ(no_out.exit_code, 2);
  EXPECT_TRUE(Contains(no_out.output, "--out DIR is required")) << no_out.output;
  const ScriptRun no_from = Run("restore.sh");
  EXPECT_EQ(no_from.exit_code, 2);
  EXPECT_TRUE(Contains(no_from.output, "--from DIR is required")) << no_from.output;
  const ScriptRun no_value = Run("restore.sh", {"--from"});
  EXPECT_EQ(no_value.exit_code, 2);
  EXPECT_TRUE(Contains(no_value.output, "--from needs a value")) << no_value.output;
  const ScriptRun no_redis = Run("capacity-planning.sh", {}, {{"ADMIN_TOKEN", "x"}});
  EXPECT_EQ(no_redis.exit_code, 2);
  EXPECT_TRUE(Contains(no_redis.output, "REDIS_HOST is not set")) << no_redis.output;
  const ScriptRun bad_keys = Run("capacity-planning.sh", {"--keys", "many"});
  EXPECT_EQ(bad_keys.exit_code, 2);
  EXPECT_TRUE(Contains(bad_keys.output, "--keys must be a positive number")) << bad_keys.output;
}

TEST_F(RunbookScripts, ValidateDeploymentPassesAndNamesWhatIsWrong) {
  const ScriptRun ok = Run("validate-deployment.sh");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_TRUE(Contains(ok.output, "OK    Redis maxmemory-policy allkeys-lru")) << ok.output;
  EXPECT_TRUE(Contains(ok.output, "deployment valid")) << ok.output;

  EnvVars wrong_token = OperatorEnv();
  wrong_token["ADMIN_TOKEN"] = "not-the-admin-token-0000";
  const ScriptRun token = Run("validate-deployment.sh", {}, wrong_token);
  EXPECT_EQ(token.exit_code, 1) << token.output;
  EXPECT_TRUE(Contains(token.output, "admin token refused (HTTP 401)")) << token.output;

  EnvVars wrong_password = OperatorEnv();
  wrong_password["REDIS_PASSWORD"] = "wrong";
  const ScriptRun auth = Run("validate-deployment.sh", {}, wrong_password);
  EXPECT_EQ(auth.exit_code, 1) << auth.output;
  EXPECT_TRUE(Contains(auth.output, "WRONGPASS")) << auth.output;

  redis_->Kill();
  const ScriptRun down = Run("validate-deployment.sh");
  EXPECT_EQ(down.exit_code, 1) << down.output;
  EXPECT_TRUE(Contains(down.output, "FAIL  Redis 127.0.0.1:")) << down.output;
}

TEST_F(RunbookScripts, BackupWipeRestoreKeepsEveryKeyVerifying) {
  const auto keys = PopulatedKeys(5);
  const std::filesystem::path backup = server_->workdir() / "backup-1";
  const ScriptRun made = Run("backup.sh", {"--out", backup.string()});  // while serving
  ASSERT_EQ(made.exit_code, 0) << made.output;
  EXPECT_TRUE(Contains(made.output, "LOSING THE PEPPER INVALIDATES")) << made.output;
  EXPECT_TRUE(Contains(made.output, "(5 keys)")) << made.output;
  const ScriptRun again = Run("backup.sh", {"--out", backup.string()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Contains(again.output, "is not empty")) << again.output;

  const ScriptRun while_running = Run("restore.sh", {"--from", backup.string(), "--force"});
  EXPECT_EQ(while_running.exit_code, 1) << while_running.output;
  EXPECT_TRUE(Contains(while_running.output, "stop every instance first")) << while_running.output;

  ExpectCleanStop(*server_);
  const ScriptRun exists = Run("restore.sh", {"--from", backup.string()});
  EXPECT_EQ(exists.exit_code, 1) << exists.output;
  EXPECT_TRUE(Contains(exists.output, "--force replaces it")) << exists.output;

  std::filesystem::remove_all(server_->data_dir());  // the database, the pepper, the token
  const ScriptRun restored = Run("restore.sh", {"--from", backup.string()});
  ASSERT_EQ(restored.exit_code, 0) << restored.output;
  EXPECT_TRUE(Contains(restored.output, "(5 keys)")) << restored.output;

  ASSERT_TRUE(server_->Start());
  ApiClient api(server_->port(), server_->admin_token());
  for (const auto& k : keys) EXPECT_EQ(Verify(api, k.key).Str("code"), "VALID") << k.id;
  EXPECT_EQ(api.Admin(http::verb::get, "/v1/keys/" + keys[0].id).status, 200u)
      << "the restored admin token is accepted";

  // A damaged backup is refused before anything is touched.
  ExpectCleanStop(*server_);
  {
    std::FILE* f = std::fopen((backup / "keycache.db").c_str(), "ab");
    ASSERT_NE(f, nullptr);
    std::fputs("garbage", f);
    std::fclose(f);
  }
  const ScriptRun damaged = Run("restore.sh", {"--from", backup.string(), "--force"});
  EXPECT_EQ(damaged.exit_code, 1);
  EXPECT_TRUE(Contains(damaged.output, "fails its MANIFEST checksums")) << damaged.output;
}

TEST_F(RunbookScripts, BackupRedisSnapshotsWithTheAdminUserOnly) {
  PopulatedKeys(2);
  const std::filesystem::path out = server_->workdir() / "rdb";
  EnvVars admin = OperatorEnv();
  admin["REDIS_USERNAME"] = "default";
  admin["REDIS_PASSWORD"] = AclPassword(Acl(), "default");
  const ScriptRun made =
      Run("backup-redis.sh", {"--out", out.string(), "--redis-dir", redis_->dir().string()}, admin);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  int snapshots = 0;
  for (const auto& e : std::filesystem::directory_iterator(out)) {
    ++snapshots;
    EXPECT_EQ(std::system(("gzip -t " + ShellQuote(e.path().string())).c_str()), 0);
    EXPECT_GT(std::filesystem::file_size(e.path()), 20u);
  }
  EXPECT_EQ(snapshots, 1);

  const ScriptRun service_user =
      Run("backup-redis.sh", {"--out", out.string(), "--redis-dir", redis_->dir().string()});
  EXPECT_EQ(service_user.exit_code, 1);
  EXPECT_TRUE(Contains(service_user.output, "NOPERM")) << service_user.output;
}

TEST_F(RunbookScripts, EmergencyResetEmptiesThePrefixAndTheServiceVerifiesFromTheDatabase) {
  const auto keys = PopulatedKeys(4);
  ASSERT_FALSE(CacheEntries(*redis_).empty());
  // Something of someone else's in the same Redis is left alone.
  ASSERT_TRUE(RedisCommand(*redis_, {"SET", "other:app:key", "1"}));

  EnvVars wrong_token = OperatorEnv();
  wrong_token["ADMIN_TOKEN"] = "not-the-admin-token-0000";
  const ScriptRun refused = Run("emergency-cache-reset.sh", {}, wrong_token);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(Contains(refused.output, "HTTP 401")) << refused.output;
  EXPECT_FALSE(CacheEntries(*redis_).empty()) << "Redis was touched although step 1 failed";

  const ScriptRun reset = Run("emergency-cache-reset.sh");
  ASSERT_EQ(reset.exit_code, 0) << reset.output;
  EXPECT_TRUE(CacheEntries(*redis_).empty())
      << "left under the prefix: " << CacheEntries(*redis_)[0];
  auto other = RedisCommand(*redis_, {"GET", "other:app:key"});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->str, "1");
  for (const auto& k : keys) EXPECT_EQ(Verify(*api_, k.key).Str("code"), "VALID");

  EXPECT_EQ(Run("restore-cache.sh", {}, wrong_token).exit_code, 1);
  ASSERT_TRUE(RedisCommand(*redis_, {"UNLINK", "other:app:key"}));
  const ScriptRun warmed = Run("restore-cache.sh", {"--url", server_->url()});
  ASSERT_EQ(warmed.exit_code, 0) << warmed.output;
  EXPECT_TRUE(Contains(warmed.output, "\"loaded\":4")) << warmed.output;

  redis_->Kill();
  const ScriptRun down = Run("emergency-cache-reset.sh", {"--redis-only"});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_TRUE(Contains(down.output, "does not answer")) << down.output;
}

TEST_F(RunbookScripts, CapacityPlanningPrintsPlausibleFiguresFromAPopulatedRedis) {
  const ScriptRun empty = Run("capacity-planning.sh");
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_TRUE(Contains(empty.output, "no validation entries")) << empty.output;

  PopulatedKeys(20);
  // Not every verification leaves a Redis entry (a key's creation invalidates its id in Redis
  // without waiting, and may delete the fill of a verification that raced it): the oracle is
  // the count of validation entries in Redis itself, which must be most of the 20.
  // (Polled: a late write of the service's may land while the script runs.)
  ScriptRun plan;
  long long stored = 0;
  EXPECT_TRUE(PollUntil([&] {
    plan = Run("capacity-planning.sh", {"--keys", "1000000", "--url", server_->url()});
    stored = 0;
    for (const std::string& k : KeysUnderPrefix(*redis_)) stored += k.starts_with(kPrefix + "v:");
    return plan.exit_code == 0 && Figure(plan.output, "entries_v") == stored;
  })) << "Redis holds "
      << stored << " validation entries; the script said:\n"
      << plan.output;
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_GE(stored, 10);
  const long long per_key = Figure(plan.output, "redis_bytes_per_key");
  EXPECT_GT(per_key, 64) << plan.output;  // a sealed entry and a generation counter at least
  EXPECT_LT(per_key, 20'000) << plan.output;
  EXPECT_EQ(Figure(plan.output, "projected_redis_bytes"), per_key * 1'000'000) << plan.output;
  const long long l1 = Figure(plan.output, "l1_bytes_per_key");
  EXPECT_GT(l1, 32) << plan.output;
  EXPECT_LT(l1, 20'000) << plan.output;
  EXPECT_EQ(Figure(plan.output, "projected_l1_bytes"), l1 * 1'000'000) << plan.output;
  EXPECT_GT(Figure(plan.output, "l1_budget_holds_keys"), 0) << plan.output;

  redis_->Kill();
  const ScriptRun down = Run("capacity-planning.sh");
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_TRUE(Contains(down.output, "does not answer")) << down.output;
}

// backup.sh and restore.sh on PostgreSQL (pg_dump / pg_restore): a backup taken while serving,
// a restore that refuses a database holding keys, the database and the secrets lost, restored,
// and every key back with its state.
TEST(RunbookScriptsPostgres, BackupLoseRestoreKeepsEveryKeyAndItsState) {
  PostgresServerProcess pg;
  ASSERT_TRUE(pg.Start());
  ASSERT_TRUE(pg.CreateDatabase("keycache"));
  // On PostgreSQL the secrets are the operator's files (as systemd credentials would be).
  TempDir secrets;
  const std::filesystem::path pepper = secrets.path() / "pepper";
  const std::filesystem::path token_file = secrets.path() / "admin-token";
  const std::string token = "runbook-pg-admin-token-0123456789";
  std::ofstream(pepper) << "runbook-pg-pepper-0123456789abcdefghijklmnopqrstuvwxyz\n";
  std::ofstream(token_file) << token << "\n";
  const EnvVars env = {{"DATABASE_URL", pg.Url("keycache")},
                       {"KEYCACHE_DB_TIMEOUT", "2s"},
                       {"KEYCACHE_PEPPER_FILE", pepper.string()},
                       {"ADMIN_TOKEN_FILE", token_file.string()}};
  KeycachedProcess server(KeycachedOptions{env, std::nullopt});
  ASSERT_TRUE(server.Start());
  std::vector<CreatedKey> keys;
  {
    ApiClient api(server.port(), token);
    for (int i = 0; i < 4; ++i) keys.push_back(CreateKey(api, UniqueOwner("pg-backup")));
    ASSERT_EQ(api.Admin(http::verb::post, "/v1/keys/" + keys[3].id + "/revoke", "{}").status, 200u);
  }
  const std::filesystem::path backup = server.workdir() / "pg-backup";
  const ScriptRun made = RunScript("backup.sh", {"--out", backup.string()}, env, server.workdir());
  ASSERT_EQ(made.exit_code, 0) << made.output;
  EXPECT_TRUE(Contains(made.output, "postgresql (pg_dump")) << made.output;
  EXPECT_TRUE(std::filesystem::is_regular_file(backup / "keycache.pgdump"));
  ExpectCleanStop(server);

  const ScriptRun holds =
      RunScript("restore.sh", {"--from", backup.string()}, env, server.workdir());
  EXPECT_EQ(holds.exit_code, 1) << holds.output;
  EXPECT_TRUE(Contains(holds.output, "the database holds 4 keys")) << holds.output;

  {  // The database and the secrets lost.
    PgSession db(pg.Url("keycache"));
    ASSERT_TRUE(db.Exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"));
  }
  std::filesystem::remove(pepper);
  std::filesystem::remove(token_file);
  const ScriptRun restored =
      RunScript("restore.sh", {"--from", backup.string()}, env, server.workdir());
  ASSERT_EQ(restored.exit_code, 0) << restored.output;
  EXPECT_TRUE(Contains(restored.output, "restored the PostgreSQL database")) << restored.output;

  ASSERT_TRUE(std::filesystem::exists(pepper) && std::filesystem::exists(token_file));
  ASSERT_TRUE(server.Start());
  ApiClient api(server.port(), token);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Verify(api, keys[i].key).Str("code"), "VALID");
  EXPECT_EQ(Verify(api, keys[3].key).Str("code"), "REVOKED");
  EXPECT_EQ(api.Admin(http::verb::get, "/v1/keys/" + keys[0].id).status, 200u)
      << "the restored admin token is accepted";

  // --force replaces a database that holds keys (one made after the backup disappears).
  const CreatedKey later = CreateKey(api, UniqueOwner("pg-backup"));
  ExpectCleanStop(server);
  const ScriptRun forced =
      RunScript("restore.sh", {"--from", backup.string(), "--force"}, env, server.workdir());
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  ASSERT_TRUE(server.Start());
  ApiClient again(server.port(), token);
  EXPECT_EQ(Verify(again, keys[0].key).Str("code"), "VALID");
  EXPECT_EQ(Verify(again, later.key).Str("code"), "NOT_FOUND");
  ExpectCleanStop(server);
}

}  // namespace
}  // namespace keycache::testing
