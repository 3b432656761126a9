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

ModelCluster::ModelCluster(int instances, EnvVars extra_env)
    : extra_env_(std::move(extra_env)),
      addresses_(static_cast<std::size_t>(instances)),
      ports_(static_cast<std::size_t>(instances)),
      pids_(static_cast<std::size_t>(instances), -1) {}

ModelCluster::~ModelCluster() {
  std::lock_guard lock(mu_);
  instances_.clear();  // SIGKILL whatever still runs, before the namespace goes
}

pid_t ModelCluster::pid(int i) const {
  std::lock_guard lock(mu_);
  return pids_[static_cast<std::size_t>(i)];
}

::testing::AssertionResult ModelCluster::Start() {
  if (auto r = netns_.Create(); !r) return r;
  RedisServerOptions o = SharedRedisDeployment::DefaultRedis();
  o.config_command = Secret("CONFIG_");
  o.bind = {"127.0.0.1", netns_.outer_address()};
  o.more_users.push_back({kRedisUser, kRedisUserPassword, "~* &* +@all"});
  deployment_ = std::make_unique<SharedRedisDeployment>(o);
  faults_ = std::make_unique<RedisFaults>(deployment_->redis());
  if (auto r = deployment_->StartRedis(); !r) return r;

  EnvVars env = deployment_->InstanceEnv();
  env["REDIS_USERNAME"] = kRedisUser;
  env["REDIS_PASSWORD"] = kRedisUserPassword;
  env["KEYCACHE_MAX_KEYS_PER_OWNER"] = "100000";
  env["KEYCACHE_WARM_ON_START"] = "false";
  for (const auto& [k, v] : extra_env_) env[k] = v;
  const std::string url = env["DATABASE_URL"];
  database_ = url.substr(url.find(':') + 1);

  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < addresses_.size(); ++i) {
    KeycachedOptions options{env, std::nullopt};
    if (static_cast<int>(i) == static_cast<int>(addresses_.size()) - 1) {
      options.netns = netns_.path();
      options.address = netns_.inner_address();
      options.env["HOST"] = netns_.inner_address();
      options.env["REDIS_HOST"] = netns_.outer_address();
    }
    options.env["KEYCACHE_INSTANCE_ID"] = "model-" + std::to_string(i);
    addresses_[i] = options.address;
    instances_.push_back(std::make_unique<KeycachedProcess>(std::move(options)));
    if (auto r = instances_.back()->Start(); !r) {
      return ::testing::AssertionFailure() << "instance " << i << ": " << r.message();
    }
    ports_[i] = instances_.back()->port();
    pids_[i] = instances_.back()->pid();
  }
  return ::testing::AssertionSuccess();
}

bool ModelCluster::Alive(int i, int* status) {
  std::lock_guard lock(mu_);
  KeycachedProcess& p = *instances_[static_cast<std::size_t>(i)];
  if (p.running()) return true;
  if (status != nullptr) *status = p.last_exit();
  return false;
}

bool ModelCluster::Healthy(std::string* why) {
  for (int i = 0; i < size(); ++i) {
    ApiClient api(address(i), port(i));
    const Reply ready = api.Send(http::verb::get, "/health/ready", {}, {}, std::chrono::seconds(2));
    if (ready.status != 200) {
      if (why) *why = "instance " + std::to_string(i) + " /health/ready: " + ready.Describe();
      return false;
    }
    const Reply cache = api.Send(http::verb::get, "/health/cache", {}, {}, std::chrono::seconds(2));
    const auto* breaker = Member(cache.json, {"cache", "redis", "breaker"});
    const auto* subscribed =
        Member(cache.json, {"cache", "redis", "invalidationChannel", "subscribed"});
    const bool ok = breaker && breaker->is_string() && breaker->as_string() == "closed" &&
                    subscribed && subscribed->is_bool() && subscribed->as_bool();
    if (!ok) {
      if (why) *why = "instance " + std::to_string(i) + " /health/cache: " + cache.Describe();
      return false;
    }
  }
  return true;
}

std::vector<int> ModelCluster::StopAll() {
  std::vector<int> codes;
  std::lock_guard lock(mu_);
  for (auto& p : instances_) codes.push_back(p->running() ? p->Stop() : p->last_exit());
  return codes;
}

}  // namespace keycache::testing::model
