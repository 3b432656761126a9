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

ModelCluster::ModelCluster(int instances, EnvVars extra_env, ModelDeployment deployment)
    : deployment_kind_(deployment),
      extra_env_(std::move(extra_env)),
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
  RedisServerOptions o = SharedRedisDeployment::DefaultRedis();
  o.config_command = Secret("CONFIG_");
  o.more_users.push_back({kRedisUser, kRedisUserPassword, "~* &* +@all"});
  if (!sentinel_mode()) {
    if (auto r = netns_.Create(); !r) return r;
    o.bind = {"127.0.0.1", netns_.outer_address()};
  }
  deployment_ = std::make_unique<SharedRedisDeployment>(o);  // its database, env (and Redis)
  faults_ = std::make_unique<RedisFaults>(deployment_->redis());
  if (!sentinel_mode()) {
    if (auto r = deployment_->StartRedis(); !r) return r;
  }
  EnvVars env = deployment_->InstanceEnv();  // REDIS_PORT is known once Redis runs
  if (sentinel_mode()) {
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
  for (const auto& [k, v] : extra_env_) env[k] = v;
  const std::string url = env["DATABASE_URL"];
  database_ = url.substr(url.find(':') + 1);

  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < addresses_.size(); ++i) {
    KeycachedOptions options{env, std::nullopt};
    if (!sentinel_mode() && static_cast<int>(i) == static_cast<int>(addresses_.size()) - 1) {
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
