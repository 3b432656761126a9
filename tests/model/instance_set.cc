#include "model/instance_set.h"

#include "support/api_client.h"

namespace keycache::testing::model {

InstanceSet::InstanceSet(int count)
    : count_(count),
      addresses_(static_cast<std::size_t>(count)),
      ports_(static_cast<std::size_t>(count)),
      pids_(static_cast<std::size_t>(count), -1) {}

InstanceSet::~InstanceSet() {
  std::lock_guard lock(mu_);
  processes_.clear();
}

::testing::AssertionResult InstanceSet::Launch(
    const EnvVars& env, const std::string& name_prefix,
    const std::function<void(int, KeycachedOptions&)>& adjust) {
  std::lock_guard lock(mu_);
  for (int i = 0; i < count_; ++i) {
    const auto at = static_cast<std::size_t>(i);
    KeycachedOptions options{env, std::nullopt};
    options.env["KEYCACHE_INSTANCE_ID"] = name_prefix + std::to_string(i);
    if (adjust) adjust(i, options);
    addresses_[at] = options.address;
    processes_.push_back(std::make_unique<KeycachedProcess>(std::move(options)));
    if (auto r = processes_.back()->Start(); !r) {
      return ::testing::AssertionFailure() << "instance " << i << ": " << r.message();
    }
    ports_[at] = processes_.back()->port();
    pids_[at] = processes_.back()->pid();
  }
  return ::testing::AssertionSuccess();
}

pid_t InstanceSet::pid(int i) const {
  std::lock_guard lock(mu_);
  return pids_[static_cast<std::size_t>(i)];
}

bool InstanceSet::Alive(int i, int* status) {
  std::lock_guard lock(mu_);
  KeycachedProcess& p = *processes_[static_cast<std::size_t>(i)];
  if (p.running()) return true;
  if (status != nullptr) *status = p.last_exit();
  return false;
}

std::vector<int> InstanceSet::StopAll() {
  std::vector<int> codes;
  std::lock_guard lock(mu_);
  for (auto& p : processes_) codes.push_back(p->running() ? p->Stop() : p->last_exit());
  return codes;
}

bool InstanceSet::Healthy(bool ready, bool lease, std::string* why, Channel channel) const {
  const bool redis = channel == Channel::kRedis;
  for (int i = 0; i < size(); ++i) {
    ApiClient api(address(i), port(i));
    if (ready) {
      const Reply r = api.Send(http::verb::get, "/health/ready", {}, {}, std::chrono::seconds(2));
      if (r.status != 200) {
        if (why) *why = "instance " + std::to_string(i) + " /health/ready: " + r.Describe();
        return false;
      }
    }
    const Reply cache = api.Send(http::verb::get, "/health/cache", {}, {}, std::chrono::seconds(2));
    const char* tier = redis ? "redis" : "postgresChannel";
    const auto* breaker = Member(cache.json, {"cache", tier, "breaker"});
    const auto* held = Member(cache.json, {"cache", tier, "coherenceLease", "held"});
    const auto* subscribed =
        Member(cache.json, {"cache", tier, "invalidationChannel", "subscribed"});
    const bool ok =
        (!redis || (breaker && breaker->is_string() && breaker->as_string() == "closed")) &&
        (!lease || (held && held->is_bool() && held->as_bool())) && subscribed &&
        subscribed->is_bool() && subscribed->as_bool();
    if (!ok) {
      if (why) *why = "instance " + std::to_string(i) + " /health/cache: " + cache.Describe();
      return false;
    }
  }
  return true;
}

}  // namespace keycache::testing::model
