// Connection settings for RedisClient and RedisSubscriber: plain values, read once at
// construction (each object keeps its own copy), plus an optional shared, thread-safe endpoint
// source (Sentinel).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "redis/redis_endpoint_source.h"

namespace keycache {

struct RedisTlsOptions {
  // ca, cert and key each hold a PEM file's path, or PEM text itself (IsPemText).
  bool enabled = false;     // REDIS_TLS; also implied by any of the three below
  std::string ca;           // REDIS_TLS_CA: verify the server against this CA; empty = system CAs
  std::string cert;         // REDIS_TLS_CERT (client cert: mutual TLS when both cert and key)
  std::string key;          // REDIS_TLS_KEY
  std::string server_name;  // SNI + name verification; empty = host

  bool active() const { return enabled || !ca.empty() || !cert.empty() || !key.empty(); }
};

struct RedisOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string username;  // ACL user (AUTH username password); empty = AUTH password only
  std::string password;  // empty = no AUTH
  int db = 0;            // SELECT when != 0
  RedisTlsOptions tls;
  int pool_size = 20;
  std::chrono::milliseconds connect_timeout{10'000};  // TCP connect + TLS handshake + AUTH/SELECT
  std::chrono::milliseconds command_timeout{5'000};
  int max_retries = 3;
  std::chrono::milliseconds reconnect_min{50}, reconnect_max{500};  // backoff between attempts
  std::string client_name = "keycached";                            // CLIENT SETNAME; "" = skip
  // Sentinel mode: the primary's address comes from here (host/port above are ignored), every
  // handshake checks ROLE (a replica is refused), and sessions follow its changes. Shared, so
  // every copy of the options follows the same source.
  std::shared_ptr<RedisEndpointSource> endpoint_source;
  // Refuse a node whose ROLE is not master (implied by endpoint_source).
  bool require_primary = false;
};

}  // namespace keycache
