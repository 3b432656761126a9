#include "model/cluster_model.h"

namespace keycache::testing::model {

ClusterModel::ClusterModel(int instances, EnvVars extra_env, StoreKind store)
    : store_(store), extra_env_(std::move(extra_env)), instances_(instances) {}

ClusterModel::~ClusterModel() = default;

::testing::AssertionResult ClusterModel::Start() {
  if (auto r = store_.Start(); !r) return r;
  if (auto r = cluster_.Start(); !r) return r;
  EnvVars env;
  std::string nodes;
  for (const auto& e : cluster_.Seeds()) nodes += (nodes.empty() ? "" : ",") + e.ToString();
  env["REDIS_CLUSTER_ENABLED"] = "true";
  env["REDIS_CLUSTER_NODES"] = nodes;
  env["REDIS_PASSWORD"] = kClusterPassword;
  env["REDIS_POOL_SIZE"] = "4";
  env["REDIS_KEY_PREFIX"] = "model:apikeys:";
  env["REDIS_CONNECT_TIMEOUT"] = "1s";
  env["REDIS_COMMAND_TIMEOUT"] = "1s";
  env["KEYCACHE_PEPPER"] = kSharedPepper;
  env["ADMIN_TOKEN"] = kSharedToken;
  env["DATABASE_URL"] = store_.Url();
  env["KEYCACHE_USAGE_FLUSH_INTERVAL"] = "100ms";
  env["KEYCACHE_MAX_KEYS_PER_OWNER"] = "100000";
  env["KEYCACHE_WARM_ON_START"] = "false";
  for (const auto& [k, v] : extra_env_) env[k] = v;
  return instances_.Launch(env, "cluster-model-");
}

}  // namespace keycache::testing::model
