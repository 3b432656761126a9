// Config: every setting of keycache, typed and validated once at start-up from the environment
// (see LoadConfig). A plain value: build it, run EnsureSecrets on it, then share it as
// shared_ptr<const Config>; after that it is immutable and safe to read from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/config_error.h"
#include "config/dotenv.h"
#include "config/redis_settings.h"
#include "config/trusted_proxies.h"
#include "util/log.h"

namespace keycache {

inline constexpr std::size_t kMinAdminTokenChars = 16;

// std::thread::hardware_concurrency() clamped to 1..64.
int DefaultHttpThreads();

// Defaults are the documented ones; each field names its variable. Empty variables count as
// unset. Durations accept "250ms", "30s", "5m", "1h" or bare seconds; sizes accept bytes or
// b/kb/mb/gb (1024-based).
struct Config {
  // HTTP server.
  std::string host = "127.0.0.1";              // HOST: IP address or host name
  std::uint16_t port = 3333;                   // PORT: 0..65535 (0 = ephemeral)
  int http_threads = DefaultHttpThreads();     // KEYCACHE_THREADS: 1..64
  std::uint64_t max_body_bytes = 64 << 10;     // KEYCACHE_MAX_BODY_BYTES: 1kb..64mb
  std::uint64_t max_header_bytes = 8 << 10;    // KEYCACHE_MAX_HEADER_BYTES: 1kb..1mb
  std::int64_t http_read_timeout_ms = 30'000;  // KEYCACHE_HTTP_READ_TIMEOUT: 100ms..1h
  std::int64_t drain_ms = 5'000;               // KEYCACHE_DRAIN: 0..10m (0 = no drain)
  std::int64_t shutdown_grace_ms = 10'000;     // KEYCACHE_SHUTDOWN_GRACE: 0..10m
  TrustedProxies trusted_proxies;              // KEYCACHE_TRUSTED_PROXIES: "" = none
  // The admin API on a listener of its own (ADMIN_PORT set): HOST:PORT then serves verification,
  // health, metrics and the status page only; the admin listener serves every route.
  std::string admin_host = "127.0.0.1";     // ADMIN_HOST: IP address or host name
  std::optional<std::uint16_t> admin_port;  // ADMIN_PORT: 0..65535 (0 = ephemeral); unset = one
                                            // listener for everything
  bool access_log = true;                   // KEYCACHE_ACCESS_LOG

  // Store.
  std::string database_url = "sqlite:./var/keycache.db";  // DATABASE_URL: sqlite:, postgres(ql)://
  int db_threads = 2;                                     // KEYCACHE_DB_THREADS: 1..64
  std::int64_t db_timeout_ms = 5'000;                     // KEYCACHE_DB_TIMEOUT: 10ms..10m
  // KEYCACHE_BACKGROUND_NICE: 0..19, the nice value of the thread that writes usage counters
  // (0 = the same priority as the I/O threads).
  int background_nice = 10;
  std::filesystem::path data_dir = "./var";  // KEYCACHE_DATA_DIR

  // Secrets. Empty = generate/load from data_dir (SQLite only; see EnsureSecrets).
  // ADMIN_TOKEN: >= 16 printable ASCII characters, no blanks.
  std::string admin_token;
  // KEYCACHE_PEPPER, or the content of the file named by KEYCACHE_PEPPER_FILE without
  // trailing whitespace (not both): >= 32 bytes.
  std::string pepper;

  // Keys.
  std::string key_prefix = "ak";        // KEYCACHE_KEY_PREFIX: IsValidKeyPrefix
  std::size_t max_keys_per_owner = 50;  // KEYCACHE_MAX_KEYS_PER_OWNER: 1..100000

  // Caches. TTLs are 1s..7d; the four per-cache TTLs take API_KEY_CACHE_DEFAULT_TTL, when set,
  // as their default instead of the values below. The negative TTL does not.
  bool cache_enabled = true;            // API_KEY_CACHE_ENABLED
  bool emergency_mode = false;          // EMERGENCY_MODE: database only
  std::int64_t ttl_validation_s = 300;  // CACHE_TTL_VALIDATION
  std::int64_t ttl_scope_s = 600;       // CACHE_TTL_SCOPE
  std::int64_t ttl_user_list_s = 1800;  // CACHE_TTL_USER_LIST
  std::int64_t ttl_usage_s = 60;        // CACHE_TTL_USAGE
  std::int64_t ttl_negative_s = 30;     // CACHE_TTL_NEGATIVE
  // API_KEY_CACHE_MAX_MEMORY: 1mb..1024gb
  std::uint64_t cache_max_memory_bytes = std::uint64_t{512} << 20;
  // KEYCACHE_L1_HOT_ENTRIES: each verifying thread's copies of hot L1 entries (cache/hot_facts.h),
  // a power of two (rounded up); 0 = none.
  int l1_hot_entries = 4096;
  bool warm_on_start = true;                     // KEYCACHE_WARM_ON_START
  std::int64_t usage_flush_interval_ms = 1'000;  // KEYCACHE_USAGE_FLUSH_INTERVAL: 10ms..1h

  // The shared L2, cross-instance invalidation and shared usage counters (REDIS_*).
  RedisSettings redis;
  // KEYCACHE_PG_NOTIFY: on PostgreSQL without REDIS_HOST, keep L1 coherent across instances over
  // LISTEN/NOTIFY (with the coherence lease of KEYCACHE_COHERENCE_LEASE). Ignored on SQLite, with
  // Redis (whose channel does the job) and with the cache off.
  bool pg_notify = true;
  // KEYCACHE_DB_PIPELINE: on PostgreSQL, each HTTP thread looks keys up on a connection of its
  // own in pipeline mode, on its event loop, instead of handing the read to the database pool.
  bool db_pipeline = true;

  // Observability.
  bool metrics_enabled = true;                // CACHE_METRICS_ENABLED
  std::int64_t health_check_interval_s = 30;  // CACHE_HEALTH_CHECK_INTERVAL: 1..3600 s
  std::uint64_t health_min_lookups = 100;     // KEYCACHE_HEALTH_MIN_LOOKUPS: 0..10^9
  LogLevel log_level = LogLevel::kInfo;       // LOG_LEVEL: debug, info, warn, error, off

  bool is_sqlite() const;
  // The file part of a sqlite: URL: "sqlite:./var/keycache.db" -> "./var/keycache.db",
  // "sqlite:///srv/k.db" -> "/srv/k.db". Empty when !is_sqlite().
  std::string sqlite_path() const;
};

struct ConfigLoad {
  std::optional<Config> config;     // set iff errors is empty
  std::vector<ConfigError> errors;  // every problem found, in a stable order
  // Variables with one of our prefixes that keycache does not know (typos): logged, not fatal.
  std::vector<ConfigError> warnings;
};

// Reads and validates every variable above from `env` (see MergeEnvironment). Reads the file
// named by KEYCACHE_PEPPER_FILE, if any; otherwise pure. Messages never contain the value of
// ADMIN_TOKEN, the pepper or DATABASE_URL.
ConfigLoad LoadConfig(const EnvMap& env);

}  // namespace keycache
