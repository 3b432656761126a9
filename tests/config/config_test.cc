#include "config/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "config/known_variables.h"

namespace keycache {
namespace {

const std::string kPepper(40, 'p');             // long enough
const std::string kToken = "0123456789abcdef";  // exactly the minimum

std::string Join(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.ToString() + "\n";
  return out;
}

Config LoadOk(const EnvMap& env) {
  ConfigLoad load = LoadConfig(env);
  EXPECT_TRUE(load.errors.empty()) << Join(load.errors);
  EXPECT_TRUE(load.config.has_value());
  return load.config.value_or(Config{});
}

// The one error LoadConfig reports for `env`, as "VARIABLE: message".
std::string OnlyError(const EnvMap& env) {
  ConfigLoad load = LoadConfig(env);
  EXPECT_FALSE(load.config.has_value());
  EXPECT_EQ(load.errors.size(), 1u) << Join(load.errors);
  return load.errors.empty() ? "" : load.errors.front().ToString();
}

// The guide's emergency switches are aliases of ours (CACHE_ENABLED, SKIP_CACHE_OPERATIONS,
// FORCE_DATABASE_FALLBACK); an alias that contradicts its variable is an error naming both.
TEST(LoadConfig, TheGuidesEmergencySwitchesAreAliases) {
  EXPECT_FALSE(LoadOk({{"CACHE_ENABLED", "false"}}).cache_enabled);
  EXPECT_TRUE(LoadOk({{"CACHE_ENABLED", "true"}}).cache_enabled);
  EXPECT_FALSE(LoadOk({{"SKIP_CACHE_OPERATIONS", "true"}}).cache_enabled);
  EXPECT_TRUE(LoadOk({{"SKIP_CACHE_OPERATIONS", "false"}}).cache_enabled);
  EXPECT_TRUE(LoadOk({{"FORCE_DATABASE_FALLBACK", "true"}}).emergency_mode);
  EXPECT_FALSE(LoadOk({{"FORCE_DATABASE_FALLBACK", "no"}}).emergency_mode);
  // The guide's EMERGENCY_CONFIG sets all three at once: consistent, so accepted.
  const Config emergency = LoadOk({{"CACHE_ENABLED", "false"},
                                   {"FORCE_DATABASE_FALLBACK", "true"},
                                   {"SKIP_CACHE_OPERATIONS", "true"},
                                   {"EMERGENCY_MODE", "true"}});
  EXPECT_FALSE(emergency.cache_enabled);
  EXPECT_TRUE(emergency.emergency_mode);

  const std::string both = OnlyError({{"API_KEY_CACHE_ENABLED", "true"}, {"CACHE_ENABLED", "0"}});
  EXPECT_NE(both.find("CACHE_ENABLED: contradicts API_KEY_CACHE_ENABLED"), std::string::npos)
      << both;
  const std::string skip =
      OnlyError({{"CACHE_ENABLED", "true"}, {"SKIP_CACHE_OPERATIONS", "true"}});
  EXPECT_NE(skip.find("SKIP_CACHE_OPERATIONS: contradicts CACHE_ENABLED"), std::string::npos)
      << skip;
  const std::string fallback =
      OnlyError({{"EMERGENCY_MODE", "false"}, {"FORCE_DATABASE_FALLBACK", "true"}});
  EXPECT_NE(fallback.find("FORCE_DATABASE_FALLBACK: contradicts EMERGENCY_MODE"), std::string::npos)
      << fallback;
  EXPECT_NE(
      OnlyError({{"CACHE_ENABLED", "maybe"}}).find("CACHE_ENABLED: \"maybe\" is not a boolean"),
      std::string::npos);
}

TEST(LoadConfig, TheAdminListenerIsOptionalAndNeedsItsOwnAddress) {
  const Config one = LoadOk({});
  EXPECT_FALSE(one.admin_port.has_value());
  const Config two = LoadOk({{"ADMIN_PORT", "3334"}, {"ADMIN_HOST", "10.0.0.5"}});
  EXPECT_EQ(two.admin_port, std::optional<std::uint16_t>(3334));
  EXPECT_EQ(two.admin_host, "10.0.0.5");
  EXPECT_EQ(LoadOk({{"ADMIN_PORT", "0"}}).admin_host, "127.0.0.1");
  EXPECT_NE(OnlyError({{"ADMIN_PORT", "3333"}}).find("ADMIN_PORT: is the same address"),
            std::string::npos);
  EXPECT_NE(OnlyError({{"ADMIN_HOST", "10.0.0.5"}}).find("ADMIN_HOST: is set but ADMIN_PORT"),
            std::string::npos);
  EXPECT_NE(OnlyError({{"ADMIN_PORT", "70000"}}).find("ADMIN_PORT: \"70000\" is out of range"),
            std::string::npos);
  EXPECT_NE(OnlyError({{"ADMIN_PORT", "1"}, {"ADMIN_HOST", "bad host!"}}).find("ADMIN_HOST:"),
            std::string::npos);
}

// A variable with one of our prefixes that keycache does not read is a warning naming it (and
// the nearest known name), never its value; other variables (PATH, HOME, ...) are not ours.
TEST(LoadConfig, UnknownVariablesWithOurPrefixesAreWarnings) {
  const ConfigLoad load = LoadConfig({{"REDIS_HOTS", "secret-looking-value"},
                                      {"KEYCACHE_TREADS", "4"},
                                      {"API_KEY_CACHE_SOMETHING_ELSE", "1"},
                                      {"CACHE_ENABLE", "false"},
                                      {"PATH", "/usr/bin"},
                                      {"REDIS_HOST", "127.0.0.1"}});
  ASSERT_TRUE(load.config.has_value()) << Join(load.errors);
  ASSERT_EQ(load.warnings.size(), 4u) << Join(load.warnings);
  EXPECT_EQ(load.warnings[0].ToString(),
            "API_KEY_CACHE_SOMETHING_ELSE: is not a keycache variable and is ignored");
  EXPECT_EQ(load.warnings[1].ToString(),
            "CACHE_ENABLE: is not a keycache variable and is ignored (did you mean "
            "CACHE_ENABLED?)");
  EXPECT_EQ(load.warnings[2].ToString(),
            "KEYCACHE_TREADS: is not a keycache variable and is ignored (did you mean "
            "KEYCACHE_THREADS?)");
  EXPECT_EQ(load.warnings[3].ToString(),
            "REDIS_HOTS: is not a keycache variable and is ignored (did you mean REDIS_HOST?)");
  EXPECT_TRUE(LoadConfig({{"PATH", "/usr/bin"}, {"REDIS_PORT", "6380"}}).warnings.empty());
}

// Every known variable is accepted without a warning, and LoadConfig reads no other (the
// Reader checks each name it is asked for against the list in debug builds).
TEST(LoadConfig, EveryKnownVariableIsReadWithoutAWarning) {
  const auto known = KnownVariables();
  EXPECT_TRUE(std::is_sorted(known.begin(), known.end()));
  EXPECT_EQ(std::adjacent_find(known.begin(), known.end()), known.end());
  for (const std::string_view name : known) {
    EXPECT_TRUE(LoadConfig({{std::string(name), "x"}}).warnings.empty()) << name;
  }
}

// docs/configuration.md documents exactly the known variables: a variable added to the code but
// not to the docs (or documented but never read) fails here.
TEST(LoadConfig, TheDocsDocumentExactlyTheKnownVariables) {
  std::ifstream in(std::filesystem::path(KEYCACHE_SOURCE_DIR) / "docs" / "configuration.md");
  ASSERT_TRUE(in) << "cannot read docs/configuration.md";
  std::stringstream text;
  text << in.rdbuf();
  const std::string docs = text.str();
  std::set<std::string> documented;  // every `NAME` in the first column of a table row
  const std::regex first_cell(R"(\n\| ([^|\n]*) \|)");
  const std::regex name("`([A-Z][A-Z0-9_]+)`");
  for (auto row = std::sregex_iterator(docs.begin(), docs.end(), first_cell);
       row != std::sregex_iterator(); ++row) {
    const std::string cell = (*row)[1].str();
    for (auto it = std::sregex_iterator(cell.begin(), cell.end(), name);
         it != std::sregex_iterator(); ++it) {
      documented.insert((*it)[1].str());
    }
  }
  std::set<std::string> known;
  for (const std::string_view name : KnownVariables()) known.insert(std::string(name));
  for (const auto& name : known) EXPECT_TRUE(documented.contains(name)) << name << " undocumented";
  for (const auto& name : documented) EXPECT_TRUE(known.contains(name)) << name << " unknown";
}

TEST(LoadConfig, EveryVariableHasItsDocumentedDefault) {
  const Config c = LoadOk({});
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 3333);
  EXPECT_EQ(c.http_threads, DefaultHttpThreads());
  EXPECT_GE(c.http_threads, 1);
  EXPECT_LE(c.http_threads, 64);
  EXPECT_EQ(c.db_threads, 2);
  EXPECT_EQ(c.background_nice, 10);
  EXPECT_EQ(c.database_url, "sqlite:./var/keycache.db");
  EXPECT_TRUE(c.is_sqlite());
  EXPECT_EQ(c.sqlite_path(), "./var/keycache.db");
  EXPECT_EQ(c.data_dir, std::filesystem::path("./var"));
  EXPECT_EQ(c.admin_token, "");
  EXPECT_EQ(c.pepper, "");
  EXPECT_TRUE(c.cache_enabled);
  EXPECT_FALSE(c.emergency_mode);
  EXPECT_EQ(c.ttl_validation_s, 300);
  EXPECT_EQ(c.ttl_scope_s, 600);
  EXPECT_EQ(c.ttl_user_list_s, 1800);
  EXPECT_EQ(c.ttl_usage_s, 60);
  EXPECT_EQ(c.ttl_negative_s, 30);
  EXPECT_EQ(c.cache_max_memory_bytes, std::uint64_t{512} << 20);
  EXPECT_TRUE(c.metrics_enabled);
  EXPECT_EQ(c.health_check_interval_s, 30);
  EXPECT_EQ(c.health_min_lookups, 100u);
  EXPECT_EQ(c.key_prefix, "ak");
  EXPECT_EQ(c.max_keys_per_owner, 50u);
  EXPECT_EQ(c.log_level, LogLevel::kInfo);
  EXPECT_TRUE(c.access_log);
  EXPECT_EQ(c.usage_flush_interval_ms, 1'000);
  EXPECT_TRUE(c.trusted_proxies.empty());
  EXPECT_EQ(c.max_body_bytes, 64u << 10);
  EXPECT_EQ(c.max_header_bytes, 8u << 10);
  EXPECT_EQ(c.http_read_timeout_ms, 30'000);
  EXPECT_EQ(c.db_timeout_ms, 5'000);
  EXPECT_EQ(c.shutdown_grace_ms, 10'000);
  EXPECT_EQ(c.drain_ms, 5'000);
  EXPECT_TRUE(c.warm_on_start);
}

TEST(LoadConfig, ReadsEveryVariable) {
  const Config c = LoadOk({
      {"HOST", "0.0.0.0"},
      {"PORT", "0"},
      {"KEYCACHE_THREADS", "64"},
      {"KEYCACHE_DB_THREADS", "1"},
      {"KEYCACHE_BACKGROUND_NICE", "0"},
      {"DATABASE_URL", "sqlite:///srv/keycache/k.db"},
      {"KEYCACHE_DATA_DIR", "/srv/keycache"},
      {"ADMIN_TOKEN", kToken},
      {"KEYCACHE_PEPPER", kPepper},
      {"API_KEY_CACHE_ENABLED", "off"},
      {"EMERGENCY_MODE", "YES"},
      {"CACHE_TTL_VALIDATION", "10"},
      {"CACHE_TTL_SCOPE", "2m"},
      {"CACHE_TTL_USER_LIST", "1h"},
      {"CACHE_TTL_USAGE", "5000ms"},
      {"CACHE_TTL_NEGATIVE", "1"},
      {"API_KEY_CACHE_MAX_MEMORY", "1gb"},
      {"CACHE_METRICS_ENABLED", "0"},
      {"CACHE_HEALTH_CHECK_INTERVAL", "3600"},
      {"KEYCACHE_HEALTH_MIN_LOOKUPS", "0"},
      {"KEYCACHE_KEY_PREFIX", "kc0"},
      {"KEYCACHE_MAX_KEYS_PER_OWNER", "100000"},
      {"LOG_LEVEL", "WARN"},
      {"KEYCACHE_ACCESS_LOG", "false"},
      {"KEYCACHE_USAGE_FLUSH_INTERVAL", "250ms"},
      {"KEYCACHE_TRUSTED_PROXIES", "10.0.0.0/8, ::1"},
      {"KEYCACHE_MAX_BODY_BYTES", "1mb"},
      {"KEYCACHE_MAX_HEADER_BYTES", "16384"},
      {"KEYCACHE_HTTP_READ_TIMEOUT", "100ms"},
      {"KEYCACHE_DB_TIMEOUT", "2s"},
      {"KEYCACHE_SHUTDOWN_GRACE", "0"},
      {"KEYCACHE_DRAIN", "1500ms"},
      {"KEYCACHE_WARM_ON_START", "no"},
      {"KEYCACHE_L1_HOT_ENTRIES", "0"},
  });
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 0);
  EXPECT_EQ(c.http_threads, 64);
  EXPECT_EQ(c.db_threads, 1);
  EXPECT_EQ(c.background_nice, 0);
  EXPECT_EQ(c.sqlite_path(), "/srv/keycache/k.db");
  EXPECT_EQ(c.data_dir, std::filesystem::path("/srv/keycache"));
  EXPECT_EQ(c.admin_token, kToken);
  EXPECT_EQ(c.pepper, kPepper);
  EXPECT_FALSE(c.cache_enabled);
  EXPECT_TRUE(c.emergency_mode);
  EXPECT_EQ(c.ttl_validation_s, 10);
  EXPECT_EQ(c.ttl_scope_s, 120);
  EXPECT_EQ(c.ttl_user_list_s, 3600);
  EXPECT_EQ(c.ttl_usage_s, 5);
  EXPECT_EQ(c.ttl_negative_s, 1);
  EXPECT_EQ(c.l1_hot_entries, 0);
  EXPECT_EQ(c.cache_max_memory_bytes, std::uint64_t{1} << 30);
  EXPECT_FALSE(c.metrics_enabled);
  EXPECT_EQ(c.health_check_interval_s, 3600);
  EXPECT_EQ(c.health_min_lookups, 0u);
  EXPECT_EQ(c.key_prefix, "kc0");
  EXPECT_EQ(c.max_keys_per_owner, 100'000u);
  EXPECT_EQ(c.log_level, LogLevel::kWarn);
  EXPECT_FALSE(c.access_log);
  EXPECT_EQ(c.usage_flush_interval_ms, 250);
  EXPECT_EQ(c.trusted_proxies.size(), 2u);
  EXPECT_TRUE(c.trusted_proxies.Contains(boost::asio::ip::make_address("10.1.1.1")));
  EXPECT_EQ(c.max_body_bytes, 1u << 20);
  EXPECT_EQ(c.max_header_bytes, 16384u);
  EXPECT_EQ(c.http_read_timeout_ms, 100);
  EXPECT_EQ(c.db_timeout_ms, 2'000);
  EXPECT_EQ(c.shutdown_grace_ms, 0);
  EXPECT_EQ(c.drain_ms, 1500);
  EXPECT_FALSE(c.warm_on_start);
}

TEST(LoadConfig, EmptyVariablesCountAsUnset) {
  const Config c = LoadOk(
      {{"PORT", ""}, {"LOG_LEVEL", ""}, {"ADMIN_TOKEN", ""}, {"API_KEY_CACHE_DEFAULT_TTL", ""}});
  EXPECT_EQ(c.port, 3333);
  EXPECT_EQ(c.log_level, LogLevel::kInfo);
  EXPECT_EQ(c.admin_token, "");
  EXPECT_EQ(c.ttl_validation_s, 300);
}

TEST(LoadConfig, IgnoresUnrelatedVariables) {
  EXPECT_EQ(LoadOk({{"PATH", "/usr/bin"}, {"REDIS_HOST", "x"}}).port, 3333);
}

TEST(LoadConfig, IntegerErrors) {
  EXPECT_EQ(OnlyError({{"PORT", "abc"}}),
            "PORT: \"abc\" is not a port; expected an integer 0..65535");
  EXPECT_EQ(OnlyError({{"PORT", "65536"}}),
            "PORT: \"65536\" is out of range; expected an integer 0..65535");
  EXPECT_EQ(OnlyError({{"PORT", "-1"}}),
            "PORT: \"-1\" is out of range; expected an integer 0..65535");
  EXPECT_EQ(OnlyError({{"PORT", "80 "}}),
            "PORT: \"80 \" is not a port; expected an integer 0..65535");
  EXPECT_EQ(OnlyError({{"PORT", "99999999999999999999"}}),
            "PORT: \"99999999999999999999\" is not a port; expected an integer 0..65535");
  EXPECT_EQ(OnlyError({{"KEYCACHE_THREADS", "0"}}),
            "KEYCACHE_THREADS: \"0\" is out of range; expected an integer 1..64");
  EXPECT_EQ(OnlyError({{"KEYCACHE_DB_THREADS", "65"}}),
            "KEYCACHE_DB_THREADS: \"65\" is out of range; expected an integer 1..64");
  EXPECT_EQ(OnlyError({{"KEYCACHE_BACKGROUND_NICE", "20"}}),
            "KEYCACHE_BACKGROUND_NICE: \"20\" is out of range; expected an integer 0..19");
  EXPECT_EQ(OnlyError({{"KEYCACHE_BACKGROUND_NICE", "-1"}}),
            "KEYCACHE_BACKGROUND_NICE: \"-1\" is out of range; expected an integer 0..19");
  EXPECT_EQ(OnlyError({{"KEYCACHE_BACKGROUND_NICE", "low"}}),
            "KEYCACHE_BACKGROUND_NICE: \"low\" is not a nice value; expected an integer 0..19");
  EXPECT_EQ(OnlyError({{"KEYCACHE_DB_THREADS", "2x"}}),
            "KEYCACHE_DB_THREADS: \"2x\" is not a thread count; expected an integer 1..64");
  EXPECT_EQ(OnlyError({{"KEYCACHE_L1_HOT_ENTRIES", "-1"}}),
            "KEYCACHE_L1_HOT_ENTRIES: \"-1\" is out of range; expected an integer 0..1048576");
  EXPECT_EQ(OnlyError({{"KEYCACHE_MAX_KEYS_PER_OWNER", "0"}}),
            "KEYCACHE_MAX_KEYS_PER_OWNER: \"0\" is out of range; expected an integer 1..100000");
  EXPECT_EQ(OnlyError({{"KEYCACHE_HEALTH_MIN_LOOKUPS", "1e3"}}),
            "KEYCACHE_HEALTH_MIN_LOOKUPS: \"1e3\" is not a count; expected an integer "
            "0..1000000000");
}

TEST(LoadConfig, BooleanErrors) {
  for (const char* var : {"API_KEY_CACHE_ENABLED", "EMERGENCY_MODE", "CACHE_METRICS_ENABLED",
                          "KEYCACHE_ACCESS_LOG", "KEYCACHE_WARM_ON_START"}) {
    EXPECT_EQ(OnlyError({{var, "maybe"}}),
              std::string(var) +
                  ": \"maybe\" is not a boolean; expected true/false, 1/0, yes/no or on/off");
  }
}

TEST(LoadConfig, DurationErrors) {
  EXPECT_EQ(OnlyError({{"KEYCACHE_HTTP_READ_TIMEOUT", "5x"}}),
            "KEYCACHE_HTTP_READ_TIMEOUT: \"5x\" is not a duration; expected e.g. 250ms, 30s, 5m, "
            "1h or bare seconds");
  EXPECT_EQ(OnlyError({{"KEYCACHE_HTTP_READ_TIMEOUT", "50ms"}}),
            "KEYCACHE_HTTP_READ_TIMEOUT: \"50ms\" is out of range; expected 100ms..1h");
  EXPECT_EQ(OnlyError({{"KEYCACHE_DB_TIMEOUT", "11m"}}),
            "KEYCACHE_DB_TIMEOUT: \"11m\" is out of range; expected 10ms..10m");
  EXPECT_EQ(OnlyError({{"KEYCACHE_SHUTDOWN_GRACE", "601"}}),
            "KEYCACHE_SHUTDOWN_GRACE: \"601\" is out of range; expected 0s..10m");
  EXPECT_EQ(OnlyError({{"KEYCACHE_DRAIN", "11m"}}),
            "KEYCACHE_DRAIN: \"11m\" is out of range; expected 0s..10m");
  EXPECT_EQ(OnlyError({{"KEYCACHE_USAGE_FLUSH_INTERVAL", "5ms"}}),
            "KEYCACHE_USAGE_FLUSH_INTERVAL: \"5ms\" is out of range; expected 10ms..1h");
}

TEST(LoadConfig, WholeSecondErrors) {
  EXPECT_EQ(OnlyError({{"CACHE_TTL_SCOPE", "1500ms"}}),
            "CACHE_TTL_SCOPE: \"1500ms\" is not a whole number of seconds");
  EXPECT_EQ(OnlyError({{"CACHE_TTL_VALIDATION", "0"}}),
            "CACHE_TTL_VALIDATION: \"0\" is out of range; expected 1s..168h (bare numbers are "
            "seconds)");
  EXPECT_EQ(OnlyError({{"CACHE_TTL_NEGATIVE", "8d"}}),
            "CACHE_TTL_NEGATIVE: \"8d\" is not a duration; expected e.g. 250ms, 30s, 5m, 1h or "
            "bare seconds");
  EXPECT_EQ(OnlyError({{"CACHE_HEALTH_CHECK_INTERVAL", "3601"}}),
            "CACHE_HEALTH_CHECK_INTERVAL: \"3601\" is out of range; expected 1s..1h (bare numbers "
            "are seconds)");
  EXPECT_EQ(LoadOk({{"CACHE_HEALTH_CHECK_INTERVAL", "2m"}}).health_check_interval_s, 120);
}

TEST(LoadConfig, SizeErrors) {
  EXPECT_EQ(OnlyError({{"API_KEY_CACHE_MAX_MEMORY", "lots"}}),
            "API_KEY_CACHE_MAX_MEMORY: \"lots\" is not a size; expected bytes or a number with b, "
            "kb, mb or gb (e.g. 512mb)");
  EXPECT_EQ(OnlyError({{"API_KEY_CACHE_MAX_MEMORY", "512kb"}}),
            "API_KEY_CACHE_MAX_MEMORY: \"512kb\" is out of range; expected 1mb..1024gb");
  EXPECT_EQ(OnlyError({{"KEYCACHE_MAX_BODY_BYTES", "100"}}),
            "KEYCACHE_MAX_BODY_BYTES: \"100\" is out of range; expected 1kb..64mb");
  EXPECT_EQ(OnlyError({{"KEYCACHE_MAX_HEADER_BYTES", "2mb"}}),
            "KEYCACHE_MAX_HEADER_BYTES: \"2mb\" is out of range; expected 1kb..1mb");
}

TEST(LoadConfig, ApiKeyCacheMaxMemoryAcceptsEverySpelling) {
  EXPECT_EQ(LoadOk({{"API_KEY_CACHE_MAX_MEMORY", "1048576"}}).cache_max_memory_bytes, 1u << 20);
  EXPECT_EQ(LoadOk({{"API_KEY_CACHE_MAX_MEMORY", "1024KB"}}).cache_max_memory_bytes, 1u << 20);
  EXPECT_EQ(LoadOk({{"API_KEY_CACHE_MAX_MEMORY", "256m"}}).cache_max_memory_bytes, 256u << 20);
  EXPECT_EQ(LoadOk({{"API_KEY_CACHE_MAX_MEMORY", "2GiB"}}).cache_max_memory_bytes,
            std::uint64_t{2} << 30);
}

TEST(LoadConfig, DefaultTtlIsTheDefaultOfTheFourCaches) {
  Config c = LoadOk({{"API_KEY_CACHE_DEFAULT_TTL", "120"}});
  EXPECT_EQ(c.ttl_validation_s, 120);
  EXPECT_EQ(c.ttl_scope_s, 120);
  EXPECT_EQ(c.ttl_user_list_s, 120);
  EXPECT_EQ(c.ttl_usage_s, 120);
  EXPECT_EQ(c.ttl_negative_s, 30) << "the negative cache keeps its own default";

  c = LoadOk({{"API_KEY_CACHE_DEFAULT_TTL", "2m"},
              {"CACHE_TTL_SCOPE", "900"},
              {"CACHE_TTL_NEGATIVE", "5"}});
  EXPECT_EQ(c.ttl_validation_s, 120);
  EXPECT_EQ(c.ttl_scope_s, 900);
  EXPECT_EQ(c.ttl_user_list_s, 120);
  EXPECT_EQ(c.ttl_usage_s, 120);
  EXPECT_EQ(c.ttl_negative_s, 5);

  EXPECT_EQ(OnlyError({{"API_KEY_CACHE_DEFAULT_TTL", "0"}}),
            "API_KEY_CACHE_DEFAULT_TTL: \"0\" is out of range; expected 1s..168h (bare numbers "
            "are seconds)");
}

TEST(LoadConfig, HostErrors) {
  EXPECT_EQ(LoadOk({{"HOST", "::"}}).host, "::");
  EXPECT_EQ(LoadOk({{"HOST", "localhost"}}).host, "localhost");
  EXPECT_EQ(OnlyError({{"HOST", "bad host"}}),
            "HOST: \"bad host\" is not an IP address or host name");
}

TEST(LoadConfig, MessagesEscapeControlCharactersAndCutLongValues) {
  EXPECT_EQ(OnlyError({{"HOST", "a\nb"}}), "HOST: \"a\\x0ab\" is not an IP address or host name");
  const std::string message = OnlyError({{"LOG_LEVEL", std::string(100, 'x')}});
  EXPECT_NE(message.find("\"" + std::string(64, 'x') + "...\""), std::string::npos) << message;
}

TEST(LoadConfig, DatabaseUrlErrorsNeverEchoTheUrl) {
  const std::string message = OnlyError({{"DATABASE_URL", "mysql://app:hunter2@db/keys"}});
  EXPECT_EQ(message,
            "DATABASE_URL: has an unsupported scheme; expected sqlite:PATH, "
            "postgresql://... or postgres://...");
  EXPECT_EQ(OnlyError({{"DATABASE_URL", "sqlite:"}}),
            "DATABASE_URL: has no file path after sqlite:; expected e.g. sqlite:./var/keycache.db");
  EXPECT_EQ(OnlyError({{"DATABASE_URL", "postgresql://"},
                       {"ADMIN_TOKEN", kToken},
                       {"KEYCACHE_PEPPER", kPepper}}),
            "DATABASE_URL: has nothing after postgresql://; expected "
            "postgresql://user@host:5432/dbname");
}

TEST(LoadConfig, SqliteUrlForms) {
  Config c;
  c.database_url = "sqlite::memory:";
  EXPECT_EQ(c.sqlite_path(), ":memory:");
  c.database_url = "sqlite:relative/k.db";
  EXPECT_EQ(c.sqlite_path(), "relative/k.db");
  c.database_url = "postgres://h/db";
  EXPECT_FALSE(c.is_sqlite());
  EXPECT_EQ(c.sqlite_path(), "");
}

TEST(LoadConfig, SharedDatabaseNeedsBothSecrets) {
  ConfigLoad load = LoadConfig({{"DATABASE_URL", "postgresql://app@db:5432/keys"}});
  ASSERT_EQ(load.errors.size(), 2u) << Join(load.errors);
  EXPECT_EQ(load.errors[0].variable, "ADMIN_TOKEN");
  EXPECT_EQ(load.errors[1].variable, "KEYCACHE_PEPPER");
  EXPECT_NE(load.errors[0].message.find("not SQLite"), std::string::npos);

  const Config c = LoadOk({{"DATABASE_URL", "postgres://app@db/keys"},
                           {"ADMIN_TOKEN", kToken},
                           {"KEYCACHE_PEPPER", kPepper}});
  EXPECT_FALSE(c.is_sqlite());
}

TEST(LoadConfig, AdminTokenErrorsNeverEchoTheToken) {
  EXPECT_EQ(OnlyError({{"ADMIN_TOKEN", "tooShort"}}),
            "ADMIN_TOKEN: is 8 characters long; expected at least 16");
  const std::string message = OnlyError({{"ADMIN_TOKEN", "has blanks in the token"}});
  EXPECT_EQ(message,
            "ADMIN_TOKEN: contains a blank or non-printable character; expected "
            "printable ASCII");
}

TEST(LoadConfig, PepperErrorsNeverEchoThePepper) {
  EXPECT_EQ(OnlyError({{"KEYCACHE_PEPPER", "tiny-secret"}}),
            "KEYCACHE_PEPPER: is 11 bytes; expected at least 32 bytes");
  EXPECT_EQ(OnlyError({{"KEYCACHE_PEPPER", kPepper}, {"KEYCACHE_PEPPER_FILE", "/etc/pepper"}}),
            "KEYCACHE_PEPPER_FILE: is set together with KEYCACHE_PEPPER; set only one");
}

class PepperFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::path(::testing::TempDir()) /
            ("pepper-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::filesystem::path path_;
};

TEST_F(PepperFile, IsReadWithTrailingWhitespaceStripped) {
  std::ofstream(path_) << "  " << kPepper << " \t\r\n\n";
  const Config c = LoadOk({{"KEYCACHE_PEPPER_FILE", path_.string()}});
  EXPECT_EQ(c.pepper, "  " + kPepper);
}

TEST_F(PepperFile, TooShortAfterStrippingIsAnError) {
  std::ofstream(path_) << std::string(31, 'x') << "\n\n\n";
  EXPECT_EQ(OnlyError({{"KEYCACHE_PEPPER_FILE", path_.string()}}),
            "KEYCACHE_PEPPER_FILE: \"" + path_.string() +
                "\" holds 31 bytes without trailing whitespace; expected at least 32 bytes");
}

TEST_F(PepperFile, MissingFileIsAnError) {
  const std::string message = OnlyError({{"KEYCACHE_PEPPER_FILE", path_.string()}});
  EXPECT_EQ(message, "KEYCACHE_PEPPER_FILE: cannot open \"" + path_.string() +
                         "\": No such file or directory");
}

TEST_F(PepperFile, SatisfiesASharedDatabase) {
  std::ofstream(path_) << kPepper;
  const Config c = LoadOk({{"KEYCACHE_PEPPER_FILE", path_.string()},
                           {"DATABASE_URL", "postgresql://db/keys"},
                           {"ADMIN_TOKEN", kToken}});
  EXPECT_EQ(c.pepper, kPepper);
}

TEST_F(PepperFile, AdminTokenFileSatisfiesASharedDatabase) {
  // The same file reader; path_ holds the token here (a systemd credential in production).
  std::ofstream(path_) << kToken << "\n";
  const Config c = LoadOk({{"ADMIN_TOKEN_FILE", path_.string()},
                           {"DATABASE_URL", "postgresql://db/keys"},
                           {"KEYCACHE_PEPPER", kPepper}});
  EXPECT_EQ(c.admin_token, kToken);
  EXPECT_EQ(OnlyError({{"ADMIN_TOKEN_FILE", path_.string()}, {"ADMIN_TOKEN", kToken}}),
            "ADMIN_TOKEN_FILE: is set together with ADMIN_TOKEN; set only one");
  std::ofstream(path_) << "short\n";
  EXPECT_EQ(OnlyError({{"ADMIN_TOKEN_FILE", path_.string()}}),
            "ADMIN_TOKEN_FILE: is 5 characters long; expected at least 16");
}

TEST(LoadConfig, KeyPrefixErrors) {
  for (const char* bad : {"AK", "a_b", "ak-1", "abcdefghijklmnopq"}) {
    EXPECT_EQ(OnlyError({{"KEYCACHE_KEY_PREFIX", bad}}),
              "KEYCACHE_KEY_PREFIX: \"" + std::string(bad) +
                  "\" is not a key prefix; expected 1..16 characters of a-z and 0-9");
  }
}

TEST(LoadConfig, LogLevelErrors) {
  EXPECT_EQ(LoadOk({{"LOG_LEVEL", "debug"}}).log_level, LogLevel::kDebug);
  EXPECT_EQ(OnlyError({{"LOG_LEVEL", "verbose"}}),
            "LOG_LEVEL: \"verbose\" is not a log level; expected debug, info, warn, error or off");
}

TEST(LoadConfig, TrustedProxyErrors) {
  EXPECT_EQ(OnlyError({{"KEYCACHE_TRUSTED_PROXIES", "10.0.0.0/8, bogus"}}),
            "KEYCACHE_TRUSTED_PROXIES: \"bogus\" is not an IPv4 or IPv6 address or CIDR block; "
            "expected a comma-separated list of addresses or CIDR blocks, e.g. 10.0.0.0/8,::1");
}

TEST(LoadConfig, CollectsEveryErrorInOnePass) {
  ConfigLoad load = LoadConfig({{"PORT", "abc"},
                                {"EMERGENCY_MODE", "sometimes"},
                                {"CACHE_TTL_USAGE", "-1"},
                                {"LOG_LEVEL", "loud"},
                                {"KEYCACHE_PEPPER", "short"}});
  EXPECT_FALSE(load.config.has_value());
  std::vector<std::string> variables;
  for (const auto& e : load.errors) variables.push_back(e.variable);
  EXPECT_EQ(variables, (std::vector<std::string>{"PORT", "KEYCACHE_PEPPER", "EMERGENCY_MODE",
                                                 "CACHE_TTL_USAGE", "LOG_LEVEL"}));
}

}  // namespace
}  // namespace keycache
