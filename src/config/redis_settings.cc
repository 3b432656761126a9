#include "config/redis_settings.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <filesystem>
#include <optional>

#include "config/env_reader.h"
#include "config/secret_file.h"
#include "util/pem.h"

namespace keycache {
namespace {

using config_internal::IsHostName;
using config_internal::Quote;
using config_internal::Reader;

bool IsPrintableNoBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// A PEM file the service must read at start-up: checked now so a typo is a configuration error
// naming the variable rather than a TLS failure later.
// A PEM file's path, or PEM text itself (the guide passes contents). In one-line form (a .env
// or a container's environment) the line breaks may be written as \n. Messages never echo the
// text: it may be a private key.
void ReadPem(Reader& r, const char* var, std::string& out) {
  const auto value = r.Get(var);
  if (!value) return;
  if (IsPemText(*value)) {
    std::string text(*value);
    if (text.find('\n') == std::string::npos) {
      for (std::size_t at = 0; (at = text.find("\\n", at)) != std::string::npos;) {
        text.replace(at, 2, "\n");
        ++at;
      }
    }
    if (text.find("-----END ") == std::string::npos) {
      return r.Error(var,
                     "holds PEM text without its -----END line; expected a whole PEM block "
                     "or a file's path");
    }
    out = std::move(text);
    return;
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(std::filesystem::path(std::string(*value)), ec)) {
    return r.Error(var, Quote(*value) + " is not a readable file (nor PEM text)");
  }
  out = *value;
}

// `var` or the file `var`_FILE.
void ReadPassword(Reader& r, const std::string& var, std::string& out) {
  const std::string file_var = var + "_FILE";
  const auto password = r.Get(var.c_str());
  const auto file = r.Get(file_var.c_str());
  if (password && file) {
    return r.Error(file_var.c_str(), "is set together with " + var + "; set only one");
  }
  if (password) {
    out = *password;
    return;
  }
  if (!file) return;
  auto read = ReadSecretFile(std::filesystem::path(std::string(*file)));
  if (!read) return r.Error(file_var.c_str(), read.error().message);
  out = std::move(read->value);
}

void ReadUsername(Reader& r, const char* var, std::string& out) {
  if (const auto user = r.Get(var)) {
    if (IsPrintableNoBlank(*user)) {
      out = *user;
    } else {
      r.Error(var, Quote(*user) + " contains a blank or non-printable character");
    }
  }
}

bool IsHost(std::string_view host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(host), ec);
  return !ec || IsHostName(host);
}

// "host:port", or "[v6 address]:port".
std::optional<RedisHostPort> ParseHostPort(std::string_view item) {
  std::string_view host;
  std::string_view port;
  if (item.starts_with("[")) {
    const auto close = item.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = item.substr(1, close - 1);
    port = item.substr(close + 2);
  } else {
    const auto colon = item.rfind(':');
    if (colon == std::string_view::npos || item.find(':') != colon) return std::nullopt;
    host = item.substr(0, colon);
    port = item.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || !IsHost(host) || ec != std::errc() || end != port.data() + port.size() ||
      value == 0 || value > 65535) {
    return std::nullopt;
  }
  return RedisHostPort{std::string(host), static_cast<std::uint16_t>(value)};
}

void ReadSentinels(Reader& r, RedisSettings& s) {
  const auto list = r.Get("REDIS_SENTINELS");
  if (list) {
    std::string_view rest = *list;
    while (true) {
      const auto comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      auto parsed = ParseHostPort(item);
      if (!parsed) {
        s.sentinels.clear();
        return r.Error("REDIS_SENTINELS",
                       Quote(item) +
                           " is not host:port; expected a comma-separated list such as "
                           "10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379");
      }
      if (std::find(s.sentinels.begin(), s.sentinels.end(), *parsed) != s.sentinels.end()) {
        s.sentinels.clear();
        return r.Error("REDIS_SENTINELS", Quote(item) + " is listed twice");
      }
      s.sentinels.push_back(std::move(*parsed));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (s.sentinels.size() > 16) {
      s.sentinels.clear();
      return r.Error("REDIS_SENTINELS", "lists more than 16 Sentinels");
    }
    if (r.Get("REDIS_HOST")) {
      s.sentinels.clear();
      return r.Error("REDIS_SENTINELS",
                     "is set together with REDIS_HOST; in Sentinel mode the Sentinels name the "
                     "primary: unset REDIS_HOST (and REDIS_PORT)");
    }
    s.enabled = true;
  }
  if (const auto name = r.Get("REDIS_SENTINEL_MASTER")) {
    if (!name->empty() && name->size() <= 64 && IsPrintableNoBlank(*name)) {
      s.sentinel_master = *name;
    } else {
      r.Error("REDIS_SENTINEL_MASTER",
              Quote(*name) +
                  " is not a master name; expected 1..64 printable characters "
                  "without blanks, as in `sentinel monitor <name> ...`");
    }
  }
  ReadUsername(r, "REDIS_SENTINEL_USERNAME", s.sentinel_username);
  ReadPassword(r, "REDIS_SENTINEL_PASSWORD", s.sentinel_password);
  if (!list) {
    for (const char* var : {"REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_USERNAME",
                            "REDIS_SENTINEL_PASSWORD", "REDIS_SENTINEL_PASSWORD_FILE"}) {
      if (r.Get(var)) r.Error(var, "is set but REDIS_SENTINELS is not (Sentinel mode is off)");
    }
  }
}

bool IsInstanceId(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

// REDIS_CLUSTER_ENABLED and REDIS_CLUSTER_NODES (the guide's names).
void ReadCluster(Reader& r, RedisSettings& s) {
  r.Bool("REDIS_CLUSTER_ENABLED", s.cluster);
  const auto nodes = r.Get("REDIS_CLUSTER_NODES");
  if (!s.cluster) {
    // An explicit REDIS_CLUSTER_ENABLED=false switches a listed cluster off (the guide's
    // template keeps both); a list without the switch is a mistake.
    if (nodes && !nodes->empty() && !r.Get("REDIS_CLUSTER_ENABLED")) {
      r.Error("REDIS_CLUSTER_NODES",
              "is set but REDIS_CLUSTER_ENABLED is not; set REDIS_CLUSTER_ENABLED=true for a "
              "Redis Cluster");
    }
    return;
  }
  if (!nodes || nodes->empty()) {
    return r.Error("REDIS_CLUSTER_NODES",
                   "must list the cluster's nodes (host:port,host:port,...) when "
                   "REDIS_CLUSTER_ENABLED is true");
  }
  std::string_view rest = *nodes;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    auto parsed = ParseHostPort(item);
    if (!parsed) {
      return r.Error("REDIS_CLUSTER_NODES",
                     Quote(item) +
                         " is not a node address; expected host:port (an IP address "
                         "or host name and a port 1..65535; [IPv6]:port), e.g. "
                         "redis-1:7000,redis-2:7001");
    }
    if (std::find(s.cluster_nodes.begin(), s.cluster_nodes.end(), *parsed) ==
        s.cluster_nodes.end()) {
      s.cluster_nodes.push_back(std::move(*parsed));
    }
  }
  s.enabled = true;
}

}  // namespace

void ReadRedisSettings(Reader& r, RedisSettings& s) {
  if (const auto host = r.Get("REDIS_HOST")) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(std::string(*host), ec);
    if (ec && !IsHostName(*host)) {
      r.Error("REDIS_HOST", Quote(*host) + " is not an IP address or host name");
    } else {
      s.host = *host;
      s.enabled = true;
    }
  }
  ReadSentinels(r, s);
  ReadCluster(r, s);
  if (s.cluster && s.sentinel()) {
    r.Error("REDIS_SENTINELS",
            "is set together with REDIS_CLUSTER_ENABLED; a Redis Cluster fails over by itself, "
            "choose one");
  }
  r.Bool("REDIS_ENABLED", s.enabled);
  if (s.enabled && s.host.empty() && !r.Get("REDIS_HOST") && !r.Get("REDIS_SENTINELS") &&
      !s.cluster) {
    r.Error("REDIS_HOST",
            "must be set when REDIS_ENABLED is true (or REDIS_SENTINELS, or "
            "REDIS_CLUSTER_ENABLED with REDIS_CLUSTER_NODES)");
  }
  r.Int("REDIS_PORT", "a port", 1, 65535, s.port);
  ReadUsername(r, "REDIS_USERNAME", s.username);
  ReadPassword(r, "REDIS_PASSWORD", s.password);
  r.Int("REDIS_DB", "a database number", 0, 1023, s.db);
  if (s.cluster && s.db != 0) {
    r.Error("REDIS_DB", "must be 0 with REDIS_CLUSTER_ENABLED: Redis Cluster has only database 0");
  }
  r.Int("REDIS_POOL_SIZE", "a connection count", 1, 512, s.pool_size);
  r.Bool("REDIS_TLS", s.tls);
  ReadPem(r, "REDIS_TLS_CA", s.tls_ca);
  ReadPem(r, "REDIS_TLS_CERT", s.tls_cert);
  ReadPem(r, "REDIS_TLS_KEY", s.tls_key);
  if (!s.tls_ca.empty() || !s.tls_cert.empty() || !s.tls_key.empty()) {
    if (r.Get("REDIS_TLS") && !s.tls) {
      r.Error("REDIS_TLS", "is false but REDIS_TLS_CA/CERT/KEY are set; unset them or enable TLS");
    }
    s.tls = true;
  }
  // Whether each is set, valid or not: an invalid one has its own error already.
  const bool has_cert = r.Get("REDIS_TLS_CERT").has_value();
  if (has_cert != r.Get("REDIS_TLS_KEY").has_value()) {
    r.Error(has_cert ? "REDIS_TLS_KEY" : "REDIS_TLS_CERT",
            "must be set together with " +
                std::string(has_cert ? "REDIS_TLS_CERT" : "REDIS_TLS_KEY") +
                " (mutual TLS needs both the client certificate and its key)");
  }
  if (const auto name = r.Get("REDIS_TLS_SERVER_NAME")) {
    if (IsHostName(*name)) {
      s.tls_server_name = *name;
    } else {
      r.Error("REDIS_TLS_SERVER_NAME", Quote(*name) + " is not a host name");
    }
  }
  if (const auto prefix = r.Get("REDIS_KEY_PREFIX")) {
    if (prefix->size() <= 64 && IsPrintableNoBlank(*prefix) &&
        prefix->find_first_of("{}") == std::string_view::npos) {
      s.key_prefix = *prefix;
    } else {
      r.Error("REDIS_KEY_PREFIX", Quote(*prefix) +
                                      " is not a key prefix; expected 1..64 printable characters "
                                      "without blanks or braces, e.g. cache:apikeys:");
    }
  }
  r.DurationMs("REDIS_CONNECT_TIMEOUT", 100, 120'000, s.connect_timeout_ms);
  r.DurationMs("REDIS_COMMAND_TIMEOUT", 10, 60'000, s.command_timeout_ms);
  r.Int("REDIS_MAX_RETRIES", "a retry count", 0, 10, s.max_retries);
  r.Int("KEYCACHE_REDIS_FENCE_REPLICAS", "a replica count", 0, 5, s.fence_replicas);
  // A change's pipeline may hold two WAITs (the key's counter and its owner's) on one
  // connection, and REDIS_COMMAND_TIMEOUT bounds the whole pipeline: both must fit in it.
  if (r.Get("KEYCACHE_REDIS_FENCE_TIMEOUT")) {
    r.DurationMs("KEYCACHE_REDIS_FENCE_TIMEOUT", 10, 60'000, s.fence_timeout_ms);
    if (2 * s.fence_timeout_ms >= s.command_timeout_ms) {
      r.Error("KEYCACHE_REDIS_FENCE_TIMEOUT",
              "twice the replica wait (" + std::to_string(s.fence_timeout_ms) +
                  " ms) must be shorter than REDIS_COMMAND_TIMEOUT (" +
                  std::to_string(s.command_timeout_ms) +
                  " ms): a change may wait twice in one pipeline, which the command timeout "
                  "bounds");
    }
  } else {
    s.fence_timeout_ms = std::max<std::int64_t>(
        10, std::min<std::int64_t>(s.fence_timeout_ms, s.command_timeout_ms / 4));
  }
  r.Int("KEYCACHE_REDIS_BREAKER_FAILURES", "a failure count", 1, 1000, s.breaker_failures);
  r.DurationMs("KEYCACHE_REDIS_BREAKER_PROBE", 10, 10'000, s.breaker_probe_ms);
  r.DurationMs("KEYCACHE_L1_MAX_AGE", 1'000, std::int64_t{7} * 24 * 3'600'000, s.l1_max_age_ms);
  // KEYCACHE_L1_DEGRADED_MAX_AGE is the former name of the bound the lease now enforces.
  r.DurationMs("KEYCACHE_L1_DEGRADED_MAX_AGE", 100, 60'000, s.lease_ms);
  r.DurationMs("KEYCACHE_COHERENCE_LEASE", 100, 60'000, s.lease_ms);
  if (s.breaker_probe_ms * 2 > s.lease_ms) {
    r.Error("KEYCACHE_REDIS_BREAKER_PROBE",
            "the heartbeat interval (" + std::to_string(s.breaker_probe_ms) +
                " ms) must be at most half of KEYCACHE_COHERENCE_LEASE (" +
                std::to_string(s.lease_ms) + " ms), or the lease lapses between heartbeats");
  }
  r.Bool("KEYCACHE_L1_ENABLED", s.l1_enabled);
  if (!s.l1_enabled && !s.enabled) {
    r.Error("KEYCACHE_L1_ENABLED", "can be false only with the Redis tier (set REDIS_HOST)");
  }
  if (const auto id = r.Get("KEYCACHE_INSTANCE_ID")) {
    if (IsInstanceId(*id)) {
      s.instance_id = *id;
    } else {
      r.Error("KEYCACHE_INSTANCE_ID",
              Quote(*id) + " is not an instance id; expected 1..64 of A-Z a-z 0-9 . _ : -");
    }
  }
}

}  // namespace keycache
