#include "model/model_cluster.h"

#include <random>
#include <sstream>

namespace keycache::testing::model {
namespace {

std::string Secret(std::string_view prefix) {
  std::random_device rd;
  std::ostringstream out;
  out << prefix << std::hex << rd() << rd();
  return out.str();
}

}  // namespace

ModelCluster::ModelCluster(int instances, EnvVars extra_env, ModelDeployment deployment,
                           StoreKind store)
    : deployment_kind_(deployment),
      store_(store),
      extra_env_(std::move(extra_env)),
      instances_(instances) {}

ModelCluster::~ModelCluster() = default;

::testing::AssertionResult ModelCluster::Start() {
  if (auto r = store_.Start(); !r) return r;
  RedisServerOptions o = SharedRedisDeployment::DefaultRedis();
  o.config_command = Secret("CONFIG_");
  o.more_users.push_back({kRedisUser, kRedisUserPassword, "~* &* +@all"});
  const bool standalone = deployment_kind_ == ModelDeployment::kStandalone;
  if (standalone) {
    if (auto r = netns_.Create(); !r) return r;
    o.bind = {"127.0.0.1", netns_.outer_address()};
  }
  deployment_ = std::make_unique<SharedRedisDeployment>(o);  // its database, env (and Redis)
  faults_ = std::make_unique<RedisFaults>(deployment_->redis());
  if (standalone) {
    if (auto r = deployment_->StartRedis(); !r) return r;
  }
  EnvVars env = deployment_->InstanceEnv();  // REDIS_PORT is known once Redis runs
  if (!redis_mode()) {
    if (!store_.postgres()) {
      return ::testing::AssertionFailure()
             << "a deployment without Redis needs PostgreSQL (several instances on one SQLite "
                "file are refused)";
    }
    std::erase_if(env, [](const auto& kv) { return kv.first.starts_with("REDIS_"); });
  } else if (sentinel_mode()) {
    sentinel_ = std::make_unique<SentinelDeployment>();
    if (auto r = sentinel_->Start(); !r) return r;
    env.erase("REDIS_HOST");
    env.erase("REDIS_PORT");
    env["REDIS_SENTINELS"] = sentinel_->SentinelsEnv();
    env["REDIS_SENTINEL_MASTER"] = sentinel_->options().master_name;
    env["REDIS_SENTINEL_PASSWORD"] = sentinel_->options().sentinel_password;
    env["REDIS_PASSWORD"] = sentinel_->options().password;
    // A dead primary must not hold a request for the default 10 s / 5 s.
    env["REDIS_CONNECT_TIMEOUT"] = "500ms";
    env["REDIS_COMMAND_TIMEOUT"] = "1s";
  } else {
    env["REDIS_USERNAME"] = kRedisUser;
    env["REDIS_PASSWORD"] = kRedisUserPassword;
  }
  env["KEYCACHE_MAX_KEYS_PER_OWNER"] = "100000";
  env["KEYCACHE_WARM_ON_START"] = "false";
  env["DATABASE_URL"] = store_.Url();
  for (const auto& [k, v] : extra_env_) env[k] = v;
  const int isolated = standalone ? size() - 1 : -1;
  return instances_.Launch(env, "model-", [&](int i, KeycachedOptions& options) {
    if (i != isolated) return;
    options.netns = netns_.path();
    options.address = netns_.inner_address();
    options.env["HOST"] = netns_.inner_address();
    options.env["REDIS_HOST"] = netns_.outer_address();
    options.env["DATABASE_URL"] = store_.IsolatedUrl();
  });
}

}  // namespace keycache::testing::model
