// The Redis tier's variables: defaults, the guide's names, and one clear error per bad value.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/config.h"

namespace keycache {
namespace {

std::string Join(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.ToString() + "\n";
  return out;
}

RedisSettings LoadOk(const EnvMap& env) {
  ConfigLoad load = LoadConfig(env);
  EXPECT_TRUE(load.errors.empty()) << Join(load.errors);
  return load.config ? load.config->redis : RedisSettings{};
}

std::string OnlyError(const EnvMap& env) {
  ConfigLoad load = LoadConfig(env);
  EXPECT_FALSE(load.config.has_value());
  EXPECT_EQ(load.errors.size(), 1u) << Join(load.errors);
  return load.errors.empty() ? "" : load.errors.front().ToString();
}

TEST(RedisSettings, OffByDefaultWithTheGuidesDefaults) {
  const RedisSettings s = LoadOk({});
  EXPECT_FALSE(s.enabled);
  EXPECT_EQ(s.port, 6379);
  EXPECT_EQ(s.db, 0);
  EXPECT_EQ(s.pool_size, 20);
  EXPECT_EQ(s.key_prefix, "cache:apikeys:");
  EXPECT_EQ(s.connect_timeout_ms, 10'000);
  EXPECT_EQ(s.command_timeout_ms, 5'000);
  EXPECT_EQ(s.max_retries, 3);
  EXPECT_EQ(s.fence_replicas, 1);
  EXPECT_EQ(s.fence_timeout_ms, 1'000);
  EXPECT_FALSE(s.tls);
}

TEST(RedisSettings, TheGuidesVariablesTurnItOn) {
  const RedisSettings s = LoadOk({{"REDIS_HOST", "redis.internal"},
                                  {"REDIS_PORT", "6380"},
                                  {"REDIS_PASSWORD", "pw with spaces"},
                                  {"REDIS_DB", "3"},
                                  {"REDIS_USERNAME", "keycache"},
                                  {"REDIS_POOL_SIZE", "50"},
                                  {"REDIS_KEY_PREFIX", "prod:keys:"},
                                  {"REDIS_COMMAND_TIMEOUT", "250ms"},
                                  {"KEYCACHE_L1_MAX_AGE", "30s"}});
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.host, "redis.internal");
  EXPECT_EQ(s.port, 6380);
  EXPECT_EQ(s.password, "pw with spaces");
  EXPECT_EQ(s.db, 3);
  EXPECT_EQ(s.username, "keycache");
  EXPECT_EQ(s.pool_size, 50);
  EXPECT_EQ(s.key_prefix, "prod:keys:");
  EXPECT_EQ(s.command_timeout_ms, 250);
  EXPECT_EQ(s.l1_max_age_ms, 30'000);
}

TEST(RedisSettings, RedisEnabledFalseKeepsItOff) {
  EXPECT_FALSE(LoadOk({{"REDIS_HOST", "localhost"}, {"REDIS_ENABLED", "false"}}).enabled);
  EXPECT_NE(OnlyError({{"REDIS_ENABLED", "true"}}).find("REDIS_HOST"), std::string::npos);
}

TEST(RedisSettings, BadValuesNameTheirVariable) {
  EXPECT_NE(OnlyError({{"REDIS_HOST", "bad host!"}}).find("REDIS_HOST"), std::string::npos);
  EXPECT_NE(OnlyError({{"REDIS_PORT", "0"}}).find("REDIS_PORT"), std::string::npos);
  EXPECT_NE(OnlyError({{"REDIS_DB", "-1"}}).find("REDIS_DB"), std::string::npos);
  EXPECT_NE(OnlyError({{"REDIS_POOL_SIZE", "0"}}).find("REDIS_POOL_SIZE"), std::string::npos);
  EXPECT_NE(OnlyError({{"REDIS_KEY_PREFIX", "has space"}}).find("REDIS_KEY_PREFIX"),
            std::string::npos);
  EXPECT_NE(OnlyError({{"REDIS_COMMAND_TIMEOUT", "forever"}}).find("REDIS_COMMAND_TIMEOUT"),
            std::string::npos);
  EXPECT_NE(OnlyError({{"REDIS_TLS_CA", "/nonexistent/ca.pem"}}).find("REDIS_TLS_CA"),
            std::string::npos);
  EXPECT_NE(OnlyError({{"KEYCACHE_INSTANCE_ID", "a b"}}).find("KEYCACHE_INSTANCE_ID"),
            std::string::npos);
}

TEST(RedisSettings, ThePasswordIsNeverEchoed) {
  ConfigLoad load = LoadConfig({{"REDIS_PASSWORD", "hunter2-secret"},
                                {"REDIS_PASSWORD_FILE", "/tmp/x"},
                                {"REDIS_PORT", "x"}});
  EXPECT_FALSE(load.config);
  EXPECT_EQ(Join(load.errors).find("hunter2-secret"), std::string::npos) << Join(load.errors);
}

TEST(RedisSettings, TlsFilesImplyTlsAndCertNeedsKey) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("kc-redis-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (const char* f : {"ca.pem", "cert.pem", "key.pem"}) std::ofstream(dir / f) << "x";
  const RedisSettings s =
      LoadOk({{"REDIS_HOST", "r"}, {"REDIS_TLS_CA", (dir / "ca.pem").string()}});
  EXPECT_TRUE(s.tls);
  EXPECT_EQ(s.tls_ca, (dir / "ca.pem").string());
  const std::string e = OnlyError({{"REDIS_TLS_CERT", (dir / "cert.pem").string()}});
  EXPECT_NE(e.find("REDIS_TLS_KEY"), std::string::npos) << e;
  const RedisSettings m = LoadOk({{"REDIS_TLS_CERT", (dir / "cert.pem").string()},
                                  {"REDIS_TLS_KEY", (dir / "key.pem").string()}});
  EXPECT_TRUE(m.tls);
  std::filesystem::remove_all(dir);
}

// The guide passes certificates and keys as contents: PEM text is kept as given (one-line
// values with \n escapes get their line breaks back), and never echoed in a message.
TEST(RedisSettings, TlsSettingsAcceptPemTextAndNeverEchoIt) {
  const std::string key =
      "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n";
  const std::string cert = "-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----\n";
  const RedisSettings s = LoadOk({{"REDIS_HOST", "r"},
                                  {"REDIS_TLS_CA", cert},
                                  {"REDIS_TLS_CERT", cert},
                                  {"REDIS_TLS_KEY", key}});
  EXPECT_TRUE(s.tls);
  EXPECT_EQ(s.tls_ca, cert);
  EXPECT_EQ(s.tls_key, key);

  std::string one_line = key;
  for (std::size_t at = 0; (at = one_line.find('\n', at)) != std::string::npos; at += 2) {
    one_line.replace(at, 1, "\\n");
  }
  ASSERT_EQ(one_line.find('\n'), std::string::npos);
  const RedisSettings escaped =
      LoadOk({{"REDIS_HOST", "r"}, {"REDIS_TLS_CERT", cert}, {"REDIS_TLS_KEY", one_line}});
  EXPECT_EQ(escaped.tls_key, key);

  const std::string cut = OnlyError({{"REDIS_HOST", "r"},
                                     {"REDIS_TLS_CERT", cert},
                                     {"REDIS_TLS_KEY", "-----BEGIN PRIVATE KEY-----\nc2VjcmV0"}});
  EXPECT_NE(cut.find("REDIS_TLS_KEY"), std::string::npos) << cut;
  EXPECT_NE(cut.find("END"), std::string::npos) << cut;
  EXPECT_EQ(cut.find("c2VjcmV0"), std::string::npos) << cut;
}

TEST(RedisSettings, L1CanBeTurnedOffOnlyWithRedis) {
  EXPECT_FALSE(LoadOk({{"REDIS_HOST", "r"}, {"KEYCACHE_L1_ENABLED", "false"}}).l1_enabled);
  const std::string e = OnlyError({{"KEYCACHE_L1_ENABLED", "false"}});
  EXPECT_NE(e.find("KEYCACHE_L1_ENABLED"), std::string::npos) << e;
}

TEST(RedisSettings, TheGuidesClusterVariables) {
  const RedisSettings s =
      LoadOk({{"REDIS_CLUSTER_ENABLED", "true"},
              {"REDIS_CLUSTER_NODES", "redis-1:7000, redis-2:7001,10.0.0.3:7002"},
              {"REDIS_PASSWORD", "pw"}});
  EXPECT_TRUE(s.enabled);
  EXPECT_TRUE(s.cluster);
  ASSERT_EQ(s.cluster_nodes.size(), 3u);
  EXPECT_EQ(s.cluster_nodes[0], (RedisNodeAddress{"redis-1", 7000}));
  EXPECT_EQ(s.cluster_nodes[1], (RedisNodeAddress{"redis-2", 7001}));
  EXPECT_EQ(s.cluster_nodes[2], (RedisNodeAddress{"10.0.0.3", 7002}));
  EXPECT_EQ(s.password, "pw");
  // REDIS_HOST may be set as well (it is one more seed); IPv6 in brackets.
  const RedisSettings v6 = LoadOk({{"REDIS_CLUSTER_ENABLED", "yes"},
                                   {"REDIS_HOST", "redis-0"},
                                   {"REDIS_CLUSTER_NODES", "[::1]:7000"}});
  EXPECT_EQ(v6.cluster_nodes[0], (RedisNodeAddress{"::1", 7000}));
  EXPECT_EQ(v6.host, "redis-0");
}

TEST(RedisSettings, ClusterErrorsAreClear) {
  std::string e = OnlyError({{"REDIS_CLUSTER_ENABLED", "true"}});
  EXPECT_NE(e.find("REDIS_CLUSTER_NODES"), std::string::npos) << e;
  EXPECT_NE(e.find("must list"), std::string::npos) << e;
  e = OnlyError(
      {{"REDIS_CLUSTER_ENABLED", "true"}, {"REDIS_CLUSTER_NODES", "redis-1:7000,redis-2"}});
  EXPECT_NE(e.find("\"redis-2\" is not a node address"), std::string::npos) << e;
  e = OnlyError({{"REDIS_CLUSTER_ENABLED", "true"}, {"REDIS_CLUSTER_NODES", "redis-1:70000"}});
  EXPECT_NE(e.find("REDIS_CLUSTER_NODES"), std::string::npos) << e;
  e = OnlyError({{"REDIS_CLUSTER_ENABLED", "true"}, {"REDIS_CLUSTER_NODES", "a:1,,b:2"}});
  EXPECT_NE(e.find("REDIS_CLUSTER_NODES"), std::string::npos) << e;
  e = OnlyError({{"REDIS_CLUSTER_ENABLED", "true"},
                 {"REDIS_CLUSTER_NODES", "redis-1:7000"},
                 {"REDIS_DB", "2"}});
  EXPECT_NE(e.find("REDIS_DB"), std::string::npos) << e;
  EXPECT_NE(e.find("must be 0"), std::string::npos) << e;
  e = OnlyError({{"REDIS_CLUSTER_NODES", "redis-1:7000"}});
  EXPECT_NE(e.find("REDIS_CLUSTER_ENABLED is not"), std::string::npos) << e;
  e = OnlyError({{"REDIS_CLUSTER_ENABLED", "maybe"}});
  EXPECT_NE(e.find("REDIS_CLUSTER_ENABLED"), std::string::npos) << e;
  // The fence's replica wait: a duration, shorter than the command timeout that bounds it.
  EXPECT_EQ(LoadOk({{"REDIS_CLUSTER_ENABLED", "true"},
                    {"REDIS_CLUSTER_NODES", "redis-1:7000"},
                    {"KEYCACHE_REDIS_FENCE_TIMEOUT", "2s"}})
                .fence_timeout_ms,
            2'000);
  e = OnlyError({{"KEYCACHE_REDIS_FENCE_TIMEOUT", "soon"}});
  EXPECT_NE(e.find("KEYCACHE_REDIS_FENCE_TIMEOUT"), std::string::npos) << e;
  e = OnlyError({{"KEYCACHE_REDIS_FENCE_TIMEOUT", "2500ms"}});
  EXPECT_NE(e.find("shorter than REDIS_COMMAND_TIMEOUT"), std::string::npos) << e;
  // Unset, it follows a short command timeout down: a quarter of it.
  EXPECT_EQ(LoadOk({{"REDIS_HOST", "redis"}, {"REDIS_COMMAND_TIMEOUT", "1s"}}).fence_timeout_ms,
            250);
  // Switched off explicitly: the list is ignored, and the tier stays off without REDIS_HOST.
  const RedisSettings off =
      LoadOk({{"REDIS_CLUSTER_ENABLED", "false"}, {"REDIS_CLUSTER_NODES", "redis-1:7000"}});
  EXPECT_FALSE(off.enabled);
  EXPECT_FALSE(off.cluster);
  // REDIS_ENABLED=false still switches the whole tier off.
  EXPECT_FALSE(LoadOk({{"REDIS_CLUSTER_ENABLED", "true"},
                       {"REDIS_CLUSTER_NODES", "redis-1:7000"},
                       {"REDIS_ENABLED", "false"}})
                   .enabled);
}

TEST(RedisSettings, SentinelsTurnItOnWithTheirOwnCredentials) {
  const RedisSettings s =
      LoadOk({{"REDIS_SENTINELS", "10.0.0.1:26379, sentinel-b:26380,[::1]:26381"},
              {"REDIS_SENTINEL_MASTER", "keycache-main"},
              {"REDIS_SENTINEL_USERNAME", "watcher"},
              {"REDIS_SENTINEL_PASSWORD", "sentinel secret"},
              {"REDIS_PASSWORD", "data secret"}});
  EXPECT_TRUE(s.enabled);
  EXPECT_TRUE(s.sentinel());
  ASSERT_EQ(s.sentinels.size(), 3u);
  EXPECT_EQ(s.sentinels[0], (RedisHostPort{"10.0.0.1", 26379}));
  EXPECT_EQ(s.sentinels[1], (RedisHostPort{"sentinel-b", 26380}));
  EXPECT_EQ(s.sentinels[2], (RedisHostPort{"::1", 26381}));
  EXPECT_EQ(s.sentinel_master, "keycache-main");
  EXPECT_EQ(s.sentinel_username, "watcher");
  EXPECT_EQ(s.sentinel_password, "sentinel secret");
  EXPECT_EQ(s.password, "data secret");
  EXPECT_TRUE(s.host.empty());
}

TEST(RedisSettings, SentinelDefaultsAndPasswordFile) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("kc_sentinel_cfg_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "sentinel_password";
  std::ofstream(file) << "from a file\n";
  std::filesystem::permissions(file, std::filesystem::perms::owner_read);
  const RedisSettings s = LoadOk(
      {{"REDIS_SENTINELS", "127.0.0.1:26379"}, {"REDIS_SENTINEL_PASSWORD_FILE", file.string()}});
  EXPECT_EQ(s.sentinel_master, "mymaster");
  EXPECT_EQ(s.sentinel_password, "from a file");
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(LoadOk({}).sentinel());
}

TEST(RedisSettings, BadSentinelSettingsNameTheirVariable) {
  for (const char* bad : {"10.0.0.1", "10.0.0.1:0", "10.0.0.1:70000", "a:1,,b:2", "bad host!:1",
                          "a:1,a:1", "::1:26379", "host:port"}) {
    const std::string e = OnlyError({{"REDIS_SENTINELS", bad}});
    EXPECT_NE(e.find("REDIS_SENTINELS"), std::string::npos) << bad << ": " << e;
  }
  const std::string both = OnlyError({{"REDIS_SENTINELS", "a:1"}, {"REDIS_HOST", "r"}});
  EXPECT_NE(both.find("REDIS_HOST"), std::string::npos) << both;
  const std::string name =
      OnlyError({{"REDIS_SENTINELS", "a:1"}, {"REDIS_SENTINEL_MASTER", "has space"}});
  EXPECT_NE(name.find("REDIS_SENTINEL_MASTER"), std::string::npos) << name;
  const std::string twice = OnlyError({{"REDIS_SENTINELS", "a:1"},
                                       {"REDIS_SENTINEL_PASSWORD", "x"},
                                       {"REDIS_SENTINEL_PASSWORD_FILE", "/nonexistent"}});
  EXPECT_NE(twice.find("REDIS_SENTINEL_PASSWORD_FILE"), std::string::npos) << twice;
  const std::string orphan = OnlyError({{"REDIS_SENTINEL_MASTER", "mymaster"}});
  EXPECT_NE(orphan.find("REDIS_SENTINELS is not"), std::string::npos) << orphan;
}

}  // namespace
}  // namespace keycache
