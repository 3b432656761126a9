#include "config/known_variables.h"

#include <algorithm>
#include <array>
#include <string>

namespace keycache {
namespace {

constexpr auto kKnown = std::to_array<std::string_view>({
    "ADMIN_HOST",
    "ADMIN_PORT",
    "ADMIN_TOKEN",
    "ADMIN_TOKEN_FILE",
    "API_KEY_CACHE_DEFAULT_TTL",
    "API_KEY_CACHE_ENABLED",
    "API_KEY_CACHE_MAX_MEMORY",
    "CACHE_ENABLED",
    "CACHE_HEALTH_CHECK_INTERVAL",
    "CACHE_METRICS_ENABLED",
    "CACHE_TTL_NEGATIVE",
    "CACHE_TTL_SCOPE",
    "CACHE_TTL_USAGE",
    "CACHE_TTL_USER_LIST",
    "CACHE_TTL_VALIDATION",
    "DATABASE_URL",
    "EMERGENCY_MODE",
    "FORCE_DATABASE_FALLBACK",
    "HOST",
    "KEYCACHE_ACCESS_LOG",
    "KEYCACHE_BACKGROUND_NICE",
    "KEYCACHE_COHERENCE_LEASE",
    "KEYCACHE_DATA_DIR",
    "KEYCACHE_DB_PIPELINE",
    "KEYCACHE_DB_THREADS",
    "KEYCACHE_DB_TIMEOUT",
    "KEYCACHE_DRAIN",
    "KEYCACHE_HEALTH_MIN_LOOKUPS",
    "KEYCACHE_HTTP_READ_TIMEOUT",
    "KEYCACHE_INSTANCE_ID",
    "KEYCACHE_KEY_PREFIX",
    "KEYCACHE_L1_DEGRADED_MAX_AGE",
    "KEYCACHE_L1_ENABLED",
    "KEYCACHE_L1_HOT_ENTRIES",
    "KEYCACHE_L1_MAX_AGE",
    "KEYCACHE_MAX_BODY_BYTES",
    "KEYCACHE_MAX_HEADER_BYTES",
    "KEYCACHE_MAX_KEYS_PER_OWNER",
    "KEYCACHE_PEPPER",
    "KEYCACHE_PEPPER_FILE",
    "KEYCACHE_PG_NOTIFY",
    "KEYCACHE_REDIS_BREAKER_FAILURES",
    "KEYCACHE_REDIS_BREAKER_PROBE",
    "KEYCACHE_REDIS_FENCE_REPLICAS",
    "KEYCACHE_REDIS_FENCE_TIMEOUT",
    "KEYCACHE_SHUTDOWN_GRACE",
    "KEYCACHE_THREADS",
    "KEYCACHE_TRUSTED_PROXIES",
    "KEYCACHE_URL",
    "KEYCACHE_USAGE_FLUSH_INTERVAL",
    "KEYCACHE_WARM_ON_START",
    "LOG_LEVEL",
    "PORT",
    "REDIS_CLUSTER_ENABLED",
    "REDIS_CLUSTER_NODES",
    "REDIS_COMMAND_TIMEOUT",
    "REDIS_CONNECT_TIMEOUT",
    "REDIS_DB",
    "REDIS_ENABLED",
    "REDIS_HOST",
    "REDIS_KEY_PREFIX",
    "REDIS_MAX_RETRIES",
    "REDIS_PASSWORD",
    "REDIS_PASSWORD_FILE",
    "REDIS_POOL_SIZE",
    "REDIS_PORT",
    "REDIS_SENTINELS",
    "REDIS_SENTINEL_MASTER",
    "REDIS_SENTINEL_PASSWORD",
    "REDIS_SENTINEL_PASSWORD_FILE",
    "REDIS_SENTINEL_USERNAME",
    "REDIS_TLS",
    "REDIS_TLS_CA",
    "REDIS_TLS_CERT",
    "REDIS_TLS_KEY",
    "REDIS_TLS_SERVER_NAME",
    "REDIS_USERNAME",
    "SKIP_CACHE_OPERATIONS",
});

constexpr auto kPrefixes =
    std::to_array<std::string_view>({"REDIS_", "CACHE_", "API_KEY_CACHE_", "KEYCACHE_"});

// Levenshtein distance, capped: names are short, the list is small.
std::size_t Distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string_view Nearest(std::string_view name) {
  constexpr std::size_t kMaxEdits = 2;
  std::string_view best;
  std::size_t best_distance = kMaxEdits + 1;
  for (const std::string_view known : kKnown) {
    const std::size_t d = Distance(name, known);
    if (d < best_distance) {
      best = known;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace

std::span<const std::string_view> KnownVariables() { return kKnown; }

bool IsKnownVariable(std::string_view name) {
  return std::binary_search(kKnown.begin(), kKnown.end(), name);
}

bool HasKeycachePrefix(std::string_view name) {
  return std::any_of(kPrefixes.begin(), kPrefixes.end(),
                     [name](std::string_view p) { return name.starts_with(p); });
}

std::vector<ConfigError> UnknownVariableWarnings(const EnvMap& env) {
  std::vector<ConfigError> warnings;
  for (const auto& [name, value] : env) {
    if (!HasKeycachePrefix(name) || IsKnownVariable(name)) continue;
    std::string message = "is not a keycache variable and is ignored";
    if (const std::string_view near = Nearest(name); !near.empty()) {
      message += " (did you mean " + std::string(near) + "?)";
    }
    warnings.push_back({name, std::move(message)});
  }
  return warnings;  // sorted: EnvMap is ordered by name
}

}  // namespace keycache
