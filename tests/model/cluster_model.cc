#include "model/cluster_model.h"

namespace keycache::testing::model {

ClusterModel::ClusterModel(int instances, EnvVars extra_env)
    : count_(instances),
      extra_env_(std::move(extra_env)),
      ports_(static_cast<std::size_t>(instances)) {}

ClusterModel::~ClusterModel() {
  std::lock_guard lock(mu_);
  instances_.clear();  // SIGKILL whatever still runs, before the cluster goes
}

::testing::AssertionResult ClusterModel::Start() {
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
  env["DATABASE_URL"] = "sqlite:" + (shared_.path() / "keycache.db").string();
  env["KEYCACHE_USAGE_FLUSH_INTERVAL"] = "100ms";
  env["KEYCACHE_MAX_KEYS_PER_OWNER"] = "100000";
  env["KEYCACHE_WARM_ON_START"] = "false";
  for (const auto& [k, v] : extra_env_) env[k] = v;
  std::lock_guard lock(mu_);
  for (int i = 0; i < count_; ++i) {
    KeycachedOptions options{env, std::nullopt};
    options.env["KEYCACHE_INSTANCE_ID"] = "cluster-model-" + std::to_string(i);
    instances_.push_back(std::make_unique<KeycachedProcess>(std::move(options)));
    if (auto r = instances_.back()->Start(); !r) {
      return ::testing::AssertionFailure() << "instance " << i << ": " << r.message();
    }
    ports_[static_cast<std::size_t>(i)] = instances_.back()->port();
  }
  return ::testing::AssertionSuccess();
}

bool ClusterModel::Alive(int i, int* status) {
  std::lock_guard lock(mu_);
  KeycachedProcess& p = *instances_[static_cast<std::size_t>(i)];
  if (p.running()) return true;
  if (status != nullptr) *status = p.last_exit();
  return false;
}

bool ClusterModel::Healthy(std::string* why) {
  for (int i = 0; i < size(); ++i) {
    ApiClient api(address(i), port(i));
    const Reply cache = api.Send(http::verb::get, "/health/cache", {}, {}, std::chrono::seconds(2));
    const auto* breaker = Member(cache.json, {"cache", "redis", "breaker"});
    const auto* held = Member(cache.json, {"cache", "redis", "coherenceLease", "held"});
    const auto* subscribed =
        Member(cache.json, {"cache", "redis", "invalidationChannel", "subscribed"});
    const bool ok = breaker && breaker->is_string() && breaker->as_string() == "closed" && held &&
                    held->is_bool() && held->as_bool() && subscribed && subscribed->is_bool() &&
                    subscribed->as_bool();
    if (!ok) {
      if (why) *why = "instance " + std::to_string(i) + " /health/cache: " + cache.Describe();
      return false;
    }
  }
  return true;
}

std::vector<int> ClusterModel::StopAll() {
  std::vector<int> codes;
  std::lock_guard lock(mu_);
  for (auto& p : instances_) codes.push_back(p->running() ? p->Stop() : p->last_exit());
  return codes;
}

}  // namespace keycache::testing::model
