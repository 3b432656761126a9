#include "config/config.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <thread>

#include "config/env_reader.h"
#include "config/known_variables.h"
#include "config/redis_settings.h"
#include "config/secret_file.h"
#include "config/value_parsers.h"
#include "core/api_key.h"
#include "core/key_hasher.h"
#include "util/thread_priority.h"

namespace keycache {
namespace {

using config_internal::IsHostName;
using config_internal::Quote;
using config_internal::Reader;

constexpr std::int64_t kMaxTtlSeconds = std::int64_t{7} * 24 * 3600;
constexpr std::uint64_t kKb = 1 << 10, kMb = 1 << 20, kGb = 1 << 30;

constexpr std::string_view kSqliteScheme = "sqlite:";

bool IsSqliteUrl(std::string_view url) { return url.starts_with(kSqliteScheme); }

std::string SqlitePathOf(std::string_view url) {
  if (!IsSqliteUrl(url)) return {};
  url.remove_prefix(kSqliteScheme.size());
  if (url.starts_with("//")) url.remove_prefix(2);  // sqlite:///abs/path, as in file: URLs
  return std::string(url);
}

void ReadHost(Reader& r, const char* var, std::string& out) {
  const auto host = r.Get(var);
  if (!host) return;
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(*host), ec);
  if (ec && !IsHostName(*host)) {
    return r.Error(var, Quote(*host) + " is not an IP address or host name");
  }
  out = *host;
}

void ReadAdminListener(Reader& r, Config& c) {
  ReadHost(r, "ADMIN_HOST", c.admin_host);
  std::int64_t port = -1;
  r.Int("ADMIN_PORT", "a port", 0, 65535, port);
  if (port >= 0) c.admin_port = static_cast<std::uint16_t>(port);
  if (r.Get("ADMIN_HOST") && !r.Get("ADMIN_PORT")) {
    r.Error("ADMIN_HOST",
            "is set but ADMIN_PORT is not; set ADMIN_PORT to give the admin API "
            "a listener of its own");
  }
  if (c.admin_port && *c.admin_port != 0 && *c.admin_port == c.port && c.admin_host == c.host) {
    r.Error("ADMIN_PORT", "is the same address as HOST:PORT; the admin listener needs its own");
  }
}

// Never echoes the URL: a PostgreSQL URL may carry a password.
void ReadDatabaseUrl(Reader& r, Config& c) {
  const auto url = r.Get("DATABASE_URL");
  if (!url) return;
  if (IsSqliteUrl(*url)) {
    if (SqlitePathOf(*url).empty()) {
      return r.Error("DATABASE_URL",
                     "has no file path after sqlite:; expected e.g. sqlite:./var/keycache.db");
    }
  } else if (url->starts_with("postgresql://") || url->starts_with("postgres://")) {
    if (*url == "postgresql://" || *url == "postgres://") {
      return r.Error("DATABASE_URL",
                     "has nothing after postgresql://; expected "
                     "postgresql://user@host:5432/dbname");
    }
  } else {
    return r.Error("DATABASE_URL",
                   "has an unsupported scheme; expected sqlite:PATH, "
                   "postgresql://... or postgres://...");
  }
  c.database_url = *url;
}

// ADMIN_TOKEN, or ADMIN_TOKEN_FILE (e.g. a systemd credential: $CREDENTIALS_DIRECTORY/...).
void ReadAdminToken(Reader& r, Config& c) {
  const auto direct = r.Get("ADMIN_TOKEN");
  const auto file = r.Get("ADMIN_TOKEN_FILE");
  if (direct && file) {
    return r.Error("ADMIN_TOKEN_FILE", "is set together with ADMIN_TOKEN; set only one");
  }
  std::string token;
  const char* variable = "ADMIN_TOKEN";
  if (direct) {
    token = std::string(*direct);
  } else if (file) {
    variable = "ADMIN_TOKEN_FILE";
    auto read = ReadSecretFile(std::filesystem::path(std::string(*file)));
    if (!read) return r.Error(variable, read.error().message);
    token = std::move(read->value);
  } else {
    return;
  }
  if (token.size() < kMinAdminTokenChars) {
    return r.Error(variable, "is " + std::to_string(token.size()) +
                                 " characters long; expected at least " +
                                 std::to_string(kMinAdminTokenChars));
  }
  const bool printable =
      std::all_of(token.begin(), token.end(), [](char ch) { return ch > 0x20 && ch < 0x7f; });
  if (!printable) {
    return r.Error(variable,
                   "contains a blank or non-printable character; expected "
                   "printable ASCII");
  }
  c.admin_token = std::move(token);
}

void ReadPepper(Reader& r, Config& c) {
  const auto pepper = r.Get("KEYCACHE_PEPPER");
  const auto file = r.Get("KEYCACHE_PEPPER_FILE");
  const std::string expected = "expected at least " + std::to_string(kMinPepperBytes) + " bytes";
  if (pepper && file) {
    return r.Error("KEYCACHE_PEPPER_FILE", "is set together with KEYCACHE_PEPPER; set only one");
  }
  if (pepper) {
    if (pepper->size() < kMinPepperBytes) {
      return r.Error("KEYCACHE_PEPPER",
                     "is " + std::to_string(pepper->size()) + " bytes; " + expected);
    }
    c.pepper = *pepper;
    return;
  }
  if (!file) return;
  auto read = ReadSecretFile(std::filesystem::path(std::string(*file)));
  if (!read) return r.Error("KEYCACHE_PEPPER_FILE", read.error().message);
  if (read->value.size() < kMinPepperBytes) {
    return r.Error("KEYCACHE_PEPPER_FILE", "\"" + std::string(*file) + "\" holds " +
                                               std::to_string(read->value.size()) +
                                               " bytes without trailing whitespace; " + expected);
  }
  c.pepper = std::move(read->value);
}

void ReadTtls(Reader& r, Config& c) {
  std::int64_t default_ttl = 0;
  r.Seconds("API_KEY_CACHE_DEFAULT_TTL", 1, kMaxTtlSeconds, default_ttl);
  if (default_ttl > 0) {
    c.ttl_validation_s = c.ttl_scope_s = c.ttl_user_list_s = c.ttl_usage_s = default_ttl;
  }
  r.Seconds("CACHE_TTL_VALIDATION", 1, kMaxTtlSeconds, c.ttl_validation_s);
  r.Seconds("CACHE_TTL_SCOPE", 1, kMaxTtlSeconds, c.ttl_scope_s);
  r.Seconds("CACHE_TTL_USER_LIST", 1, kMaxTtlSeconds, c.ttl_user_list_s);
  r.Seconds("CACHE_TTL_USAGE", 1, kMaxTtlSeconds, c.ttl_usage_s);
  r.Seconds("CACHE_TTL_NEGATIVE", 1, kMaxTtlSeconds, c.ttl_negative_s);
}

// Only the embedded SQLite setup may generate secrets into data_dir; a shared database needs
// the same secrets on every node, so they must come from the operator.
void RequireSecretsForSharedDatabase(Reader& r, const Config& c) {
  if (c.is_sqlite()) return;
  if (c.admin_token.empty() && !r.Get("ADMIN_TOKEN") && !r.Get("ADMIN_TOKEN_FILE")) {
    r.Error(
        "ADMIN_TOKEN",
        "(or ADMIN_TOKEN_FILE) must be set when DATABASE_URL is not SQLite (secrets are generated "
        "only for the embedded SQLite database)");
  }
  if (c.pepper.empty() && !r.Get("KEYCACHE_PEPPER") && !r.Get("KEYCACHE_PEPPER_FILE")) {
    r.Error("KEYCACHE_PEPPER",
            "(or KEYCACHE_PEPPER_FILE) must be set when DATABASE_URL is not "
            "SQLite (secrets are generated only for the embedded SQLite "
            "database)");
  }
}

// The guide's emergency switches are aliases: CACHE_ENABLED of API_KEY_CACHE_ENABLED,
// SKIP_CACHE_OPERATIONS=true of API_KEY_CACHE_ENABLED=false, FORCE_DATABASE_FALLBACK of
// EMERGENCY_MODE. An alias that contradicts its variable is an error, not a silent winner.
void ReadCacheSwitches(Reader& r, Config& c) {
  const auto read = [&r](const char* var) -> std::optional<bool> {
    bool value = false;
    if (!r.Get(var)) return std::nullopt;
    const std::size_t errors_before = r.ErrorCount();
    r.Bool(var, value);
    if (r.ErrorCount() != errors_before) return std::nullopt;
    return value;
  };
  struct Source {
    const char* var;
    std::optional<bool> enabled;  // the cache on (true) or off (false), as this variable says
  };
  const auto skip = read("SKIP_CACHE_OPERATIONS");
  const Source cache_sources[] = {
      {"API_KEY_CACHE_ENABLED", read("API_KEY_CACHE_ENABLED")},
      {"CACHE_ENABLED", read("CACHE_ENABLED")},
      {"SKIP_CACHE_OPERATIONS", skip ? std::optional<bool>(!*skip) : std::nullopt},
  };
  const Source* first = nullptr;
  for (const Source& s : cache_sources) {
    if (!s.enabled) continue;
    if (first == nullptr) {
      first = &s;
      c.cache_enabled = *s.enabled;
    } else if (*first->enabled != *s.enabled) {
      r.Error(s.var, std::string("contradicts ") + first->var + " (one turns the cache on, the " +
                         "other off); set only one of API_KEY_CACHE_ENABLED, CACHE_ENABLED and " +
                         "SKIP_CACHE_OPERATIONS");
    }
  }
  const auto emergency = read("EMERGENCY_MODE");
  const auto fallback = read("FORCE_DATABASE_FALLBACK");
  if (emergency && fallback && *emergency != *fallback) {
    r.Error("FORCE_DATABASE_FALLBACK",
            "contradicts EMERGENCY_MODE (it is an alias of it); set only one");
  } else if (emergency || fallback) {
    c.emergency_mode = emergency ? *emergency : *fallback;
  }
}

}  // namespace

int DefaultHttpThreads() {
  const unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(n, 1u, 64u));
}

bool Config::is_sqlite() const { return IsSqliteUrl(database_url); }

std::string Config::sqlite_path() const { return SqlitePathOf(database_url); }

ConfigLoad LoadConfig(const EnvMap& env) {
  Reader r(env);
  Config c;

  ReadHost(r, "HOST", c.host);
  r.Int("PORT", "a port", 0, 65535, c.port);
  ReadAdminListener(r, c);
  r.Int("KEYCACHE_THREADS", "a thread count", 1, 64, c.http_threads);
  r.Size("KEYCACHE_MAX_BODY_BYTES", kKb, 64 * kMb, c.max_body_bytes);
  r.Size("KEYCACHE_MAX_HEADER_BYTES", kKb, kMb, c.max_header_bytes);
  r.DurationMs("KEYCACHE_HTTP_READ_TIMEOUT", 100, 3'600'000, c.http_read_timeout_ms);
  r.DurationMs("KEYCACHE_DRAIN", 0, 600'000, c.drain_ms);
  r.DurationMs("KEYCACHE_SHUTDOWN_GRACE", 0, 600'000, c.shutdown_grace_ms);
  if (const auto proxies = r.Get("KEYCACHE_TRUSTED_PROXIES")) {
    auto parsed = TrustedProxies::Parse(*proxies);
    if (parsed) {
      c.trusted_proxies = std::move(*parsed);
    } else {
      r.Error("KEYCACHE_TRUSTED_PROXIES", parsed.error() +
                                              "; expected a comma-separated list "
                                              "of addresses or CIDR blocks, e.g. 10.0.0.0/8,::1");
    }
  }
  r.Bool("KEYCACHE_ACCESS_LOG", c.access_log);

  ReadDatabaseUrl(r, c);
  r.Int("KEYCACHE_DB_THREADS", "a thread count", 1, 64, c.db_threads);
  r.DurationMs("KEYCACHE_DB_TIMEOUT", 10, 600'000, c.db_timeout_ms);
  r.Int("KEYCACHE_BACKGROUND_NICE", "a nice value", kMinNice, kMaxNice, c.background_nice);
  if (const auto dir = r.Get("KEYCACHE_DATA_DIR")) c.data_dir = std::string(*dir);

  ReadAdminToken(r, c);
  ReadPepper(r, c);
  RequireSecretsForSharedDatabase(r, c);

  if (const auto prefix = r.Get("KEYCACHE_KEY_PREFIX")) {
    if (IsValidKeyPrefix(*prefix)) {
      c.key_prefix = *prefix;
    } else {
      r.Error("KEYCACHE_KEY_PREFIX", Quote(*prefix) + " is not a key prefix; expected 1.." +
                                         std::to_string(kMaxPrefixChars) +
                                         " characters of a-z and 0-9");
    }
  }
  r.Int("KEYCACHE_MAX_KEYS_PER_OWNER", "a key count", 1, 100'000, c.max_keys_per_owner);

  ReadCacheSwitches(r, c);
  ReadTtls(r, c);
  r.Size("API_KEY_CACHE_MAX_MEMORY", kMb, std::uint64_t{1024} * kGb, c.cache_max_memory_bytes);
  r.Int("KEYCACHE_L1_HOT_ENTRIES", "an entry count", 0, 1 << 20, c.l1_hot_entries);
  r.Bool("KEYCACHE_WARM_ON_START", c.warm_on_start);
  r.Bool("KEYCACHE_PG_NOTIFY", c.pg_notify);
  r.Bool("KEYCACHE_DB_PIPELINE", c.db_pipeline);
  r.DurationMs("KEYCACHE_USAGE_FLUSH_INTERVAL", 10, 3'600'000, c.usage_flush_interval_ms);

  ReadRedisSettings(r, c.redis);

  r.Bool("CACHE_METRICS_ENABLED", c.metrics_enabled);
  r.Seconds("CACHE_HEALTH_CHECK_INTERVAL", 1, 3600, c.health_check_interval_s);
  r.Int("KEYCACHE_HEALTH_MIN_LOOKUPS", "a count", 0, 1'000'000'000, c.health_min_lookups);
  if (const auto level = r.Get("LOG_LEVEL")) {
    if (const auto parsed = ParseLogLevel(*level)) {
      c.log_level = *parsed;
    } else {
      r.Error("LOG_LEVEL", Quote(*level) +
                               " is not a log level; expected debug, info, warn, "
                               "error or off");
    }
  }

  ConfigLoad load;
  load.errors = r.TakeErrors();
  load.warnings = UnknownVariableWarnings(env);
  if (load.errors.empty()) load.config = std::move(c);
  return load;
}

}  // namespace keycache
