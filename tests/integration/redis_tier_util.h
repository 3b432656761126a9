// A shared-Redis deployment for integration tests: one hardened redis-server (requirepass,
// renamed admin commands, allkeys-lru) and keycached instances that share it and one SQLite
// database, with the same pepper and admin token. Not thread-safe: driven by the test thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "integration/integration_util.h"
#include "support/redis_server_process.h"

namespace keycache::testing {

inline const std::string kSharedPepper = "integration-pepper-0123456789abcdef-0123456789";
inline const std::string kSharedToken = "integration-admin-token-0123456789";
inline const std::string kRedisPassword = "it-redis-pass";

class SharedRedisDeployment {
 public:
  explicit SharedRedisDeployment(RedisServerOptions redis = DefaultRedis());

  static RedisServerOptions DefaultRedis();

  ::testing::AssertionResult StartRedis() { return redis_->Start(); }
  RedisServerProcess& redis() { return *redis_; }

  // The environment of an instance that shares the Redis and the database.
  EnvVars InstanceEnv() const;
  // Starts another keycached (with InstanceEnv() plus `extra`); nullptr and a test failure when
  // it does not become ready.
  KeycachedProcess* AddInstance(const EnvVars& extra = {});
  static std::unique_ptr<ApiClient> Client(const KeycachedProcess& p) {
    return std::make_unique<ApiClient>(p.port(), kSharedToken);
  }

 private:
  std::unique_ptr<RedisServerProcess> redis_;
  TempDir shared_;
  std::vector<std::unique_ptr<KeycachedProcess>> instances_;
};

// The /health/cache body's "cache"."redis" object (null when absent).
boost::json::value RedisHealth(ApiClient& api);

// True while the instance may serve from its caches: its Redis breaker is closed and it holds
// its coherence lease (docs/adr/0003).
bool Coherent(ApiClient& api);
// Polls Coherent() (bounded); the failure message carries the tier's health.
::testing::AssertionResult WaitCoherent(ApiClient& api,
                                        std::chrono::milliseconds bound = std::chrono::seconds(15));

}  // namespace keycache::testing
