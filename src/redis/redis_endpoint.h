// RedisEndpoint: a node's address (host or IP literal, and port), as Redis Cluster reports it in
// CLUSTER SHARDS / MOVED. A plain value; not synchronised.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keycache {

struct RedisEndpoint {
  std::string host;
  std::uint16_t port = 0;

  std::string ToString() const { return host + ":" + std::to_string(port); }
  friend bool operator==(const RedisEndpoint&, const RedisEndpoint&) = default;
  friend auto operator<=>(const RedisEndpoint&, const RedisEndpoint&) = default;
};

// "host:port" (the last ':' splits, so "[::1]:7000" and "::1:7000" both work); nullopt when the
// port is missing or not 1..65535 or the host is empty.
std::optional<RedisEndpoint> ParseEndpoint(std::string_view text);

}  // namespace keycache
