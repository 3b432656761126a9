#include "integration/redis_tier_util.h"

#include <sstream>

namespace keycache::testing {

SharedRedisDeployment::SharedRedisDeployment(RedisServerOptions redis)
    : redis_(std::make_unique<RedisServerProcess>(std::move(redis))) {}

RedisServerOptions SharedRedisDeployment::DefaultRedis() {
  RedisServerOptions o;
  o.password = kRedisPassword;
  o.hardened = true;
  o.maxmemory = "64mb";
  o.maxmemory_policy = "allkeys-lru";
  return o;
}

EnvVars SharedRedisDeployment::InstanceEnv() const {
  EnvVars env;
  env["REDIS_HOST"] = "127.0.0.1";
  env["REDIS_PORT"] = std::to_string(redis_->port());
  env["REDIS_PASSWORD"] = redis_->options().password;
  env["REDIS_POOL_SIZE"] = "4";
  env["REDIS_KEY_PREFIX"] = "it:apikeys:";
  env["KEYCACHE_PEPPER"] = kSharedPepper;
  env["ADMIN_TOKEN"] = kSharedToken;
  env["DATABASE_URL"] = "sqlite:" + (shared_.path() / "keycache.db").string();
  env["KEYCACHE_USAGE_FLUSH_INTERVAL"] = "100ms";
  return env;
}

KeycachedProcess* SharedRedisDeployment::AddInstance(const EnvVars& extra) {
  EnvVars env = InstanceEnv();
  for (const auto& [k, v] : extra) env[k] = v;
  instances_.push_back(std::make_unique<KeycachedProcess>(KeycachedOptions{env, std::nullopt}));
  const ::testing::AssertionResult started = instances_.back()->Start();
  EXPECT_TRUE(started) << started.message();
  return started ? instances_.back().get() : nullptr;
}

boost::json::value RedisHealth(ApiClient& api) {
  const Reply r = api.Send(http::verb::get, "/health/cache");
  const auto* redis = Member(r.json, {"cache", "redis"});
  return redis ? *redis : boost::json::value(nullptr);
}

bool Coherent(ApiClient& api) {
  const auto h = RedisHealth(api);
  const auto* held = Member(h, {"coherenceLease", "held"});
  const auto* breaker = Member(h, {"breaker"});
  return held && held->is_bool() && held->as_bool() && breaker && *breaker == "closed";
}

::testing::AssertionResult WaitCoherent(ApiClient& api, std::chrono::milliseconds bound) {
  if (PollUntil([&] { return Coherent(api); }, bound)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "not coherent within the bound: " << boost::json::serialize(RedisHealth(api));
}

}  // namespace keycache::testing
