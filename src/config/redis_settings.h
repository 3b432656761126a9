// RedisSettings: the Redis tier's part of Config (the shared L2 cache, cross-instance
// invalidation, shared usage counters), and ReadRedisSettings, which fills it from the
// environment. A plain value, immutable once Config is built.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace keycache {

namespace config_internal {
class Reader;
}

// One address of a list variable (REDIS_SENTINELS, REDIS_CLUSTER_NODES): "host:port" or
// "[IPv6]:port".
struct RedisHostPort {
  std::string host;  // IP address or host name
  std::uint16_t port = 0;
  friend bool operator==(const RedisHostPort&, const RedisHostPort&) = default;
};
using RedisNodeAddress = RedisHostPort;  // a Redis Cluster node

struct RedisSettings {
  // The tier is on when REDIS_HOST is set, unless REDIS_ENABLED=false. Without it, keycache is
  // one process with its L1 over the database (the embedded default).
  bool enabled = false;  // REDIS_ENABLED (default: REDIS_HOST is set)
  std::string host;      // REDIS_HOST: IP address or host name
  // Redis Cluster: the nodes to read the slot map from first (any subset of the cluster; with
  // REDIS_HOST:REDIS_PORT too, when set). Auth and TLS apply to every node; db must be 0.
  bool cluster = false;                         // REDIS_CLUSTER_ENABLED
  std::vector<RedisNodeAddress> cluster_nodes;  // REDIS_CLUSTER_NODES: host:port,host:port,...
  // Cluster only: a change is in force once this many replicas of each primary it wrote to
  // have its generation bump (WAIT), so a failover cannot undo it; 0 = don't wait (a cluster
  // without replicas; a failover may then lose an acknowledged change).
  int fence_replicas = 1;  // KEYCACHE_REDIS_FENCE_REPLICAS: 0..5
  // How long that WAIT may take before the change answers 503 (committed, replayed later).
  // KEYCACHE_REDIS_FENCE_TIMEOUT: 10ms..1m, twice it under REDIS_COMMAND_TIMEOUT; default 1 s
  // or a quarter of the command timeout, whichever is shorter.
  std::int64_t fence_timeout_ms = 1'000;
  std::uint16_t port = 6379;                  // REDIS_PORT: 1..65535
  std::string username;                       // REDIS_USERNAME: ACL user ("" = AUTH password only)
  std::string password;                       // REDIS_PASSWORD, or the file REDIS_PASSWORD_FILE
  int db = 0;                                 // REDIS_DB: 0..1023
  int pool_size = 20;                         // REDIS_POOL_SIZE: 1..512
  bool tls = false;                           // REDIS_TLS (implied by any REDIS_TLS_* file)
  std::string tls_ca;                         // REDIS_TLS_CA: PEM path or text; "" = system CAs
  std::string tls_cert;                       // REDIS_TLS_CERT: client certificate (mutual TLS)
  std::string tls_key;                        // REDIS_TLS_KEY: its private key
  std::string tls_server_name;                // REDIS_TLS_SERVER_NAME: "" = REDIS_HOST
  std::string key_prefix = "cache:apikeys:";  // REDIS_KEY_PREFIX: 1..64 printable, no blanks
  std::int64_t connect_timeout_ms = 10'000;   // REDIS_CONNECT_TIMEOUT: 100ms..2m
  std::int64_t command_timeout_ms = 5'000;    // REDIS_COMMAND_TIMEOUT: 10ms..1m
  int max_retries = 3;                        // REDIS_MAX_RETRIES: 0..10

  // Sentinel mode (docs/adr/0003, "Sentinel"): the primary is whatever these Sentinels name for
  // sentinel_master; REDIS_HOST/REDIS_PORT are then not used (setting both is an error). The
  // credentials above are the data nodes'; the Sentinels have their own. REDIS_TLS_* apply to
  // the Sentinels too.
  std::vector<RedisHostPort> sentinels;      // REDIS_SENTINELS: host:port,... (turns it on)
  std::string sentinel_master = "mymaster";  // REDIS_SENTINEL_MASTER
  std::string sentinel_username;             // REDIS_SENTINEL_USERNAME
  std::string
      sentinel_password;  // REDIS_SENTINEL_PASSWORD, or the file REDIS_SENTINEL_PASSWORD_FILE
  bool sentinel() const { return !sentinels.empty(); }

  // Circuit breaker: opens after this many consecutive failures (at once on an error reply or
  // when no connection is up); the heartbeat, sent every probe interval (also while it is open),
  // closes it once Redis takes a heartbeat again.
  int breaker_failures = 5;             // KEYCACHE_REDIS_BREAKER_FAILURES: 1..1000
  std::int64_t breaker_probe_ms = 250;  // KEYCACHE_REDIS_BREAKER_PROBE: 10ms..10s, <= lease/2

  // The coherence lease (docs/adr/0003): L1 and Redis answers are trusted only while this
  // instance has heard its own heartbeat back within this long; it bounds how stale an answer
  // can be, even on a silently cut link. KEYCACHE_L1_DEGRADED_MAX_AGE is its former name.
  std::int64_t lease_ms = 1'000;  // KEYCACHE_COHERENCE_LEASE: 100ms..1m
  // The backstop: no L1 entry lives longer than this with the Redis tier.
  std::int64_t l1_max_age_ms = 60'000;  // KEYCACHE_L1_MAX_AGE: 1s..7d

  // false: verifications skip L1 and read Redis every time (no L1 staleness; measures the L2
  // path). Only with the Redis tier.
  bool l1_enabled = true;  // KEYCACHE_L1_ENABLED

  // Identifies this instance in invalidation messages; "" = host name, pid and a random suffix.
  std::string instance_id;  // KEYCACHE_INSTANCE_ID: 1..64 of [A-Za-z0-9._:-]
};

// Reads every variable above; errors go to `r`. `ReadRedisSettings` never echoes
// REDIS_PASSWORD nor REDIS_SENTINEL_PASSWORD.
void ReadRedisSettings(config_internal::Reader& r, RedisSettings& s);

}  // namespace keycache
