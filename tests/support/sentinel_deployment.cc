#include "support/sentinel_deployment.h"

#include <algorithm>
#include <cstdlib>
#include <random>
#include <sstream>
#include <thread>

#include "support/redis_config_rewrite.h"
#include "support/redis_faults.h"

namespace keycache::testing {

namespace {

using Clock = std::chrono::steady_clock;

std::string SecretName() {
  std::random_device rd;
  std::ostringstream out;
  out << "CONFIG_" << std::hex << rd() << rd();
  return out.str();
}

// The integer after "<field>:" in an INFO reply; -1 if absent.
long long InfoField(const std::string& info, const std::string& field) {
  const auto at = info.find(field + ":");
  if (at == std::string::npos) return -1;
  return std::atoll(info.c_str() + at + field.size() + 1);
}

std::string Text(const Result<RedisReply>& r) { return r && r->is_string() ? r->str : ""; }

// With a deploy folder, the passwords are its files'.
SentinelDeploymentOptions FromDeployFiles(SentinelDeploymentOptions o) {
  if (o.deploy_dir.empty()) return o;
  o.password = AclPassword(ReadTextFile(o.deploy_dir + "/users.acl"), "default");
  o.sentinel_password =
      DirectiveValue(ReadTextFile(o.deploy_dir + "/sentinel.conf"), "requirepass");
  return o;
}

std::string ConfigSecret(const SentinelDeploymentOptions& o) {
  if (o.deploy_dir.empty()) return SecretName();
  return DirectiveValue(ReadTextFile(o.deploy_dir + "/redis.conf"), "rename-command config");
}

}  // namespace

SentinelDeployment::SentinelDeployment(SentinelDeploymentOptions options)
    : options_(FromDeployFiles(std::move(options))), config_secret_(ConfigSecret(options_)) {}

SentinelDeployment::~SentinelDeployment() {
  for (auto& s : sentinels_) s->Kill();
  for (auto& d : data_) d->Kill();
}

::testing::AssertionResult SentinelDeployment::Start() {
  auto data_options = [&](std::vector<std::string> extra) {
    RedisServerOptions o;
    o.password = options_.password;
    o.config_command = config_secret_;  // hardened, with CONFIG under a secret name
    o.extra_config = {"masterauth " + options_.password, "replica-announce-ip 127.0.0.1"};
    if (!options_.deploy_dir.empty()) {
      o.base_config = options_.deploy_dir + "/redis.conf";
      o.extra_config = {"aclfile " + options_.deploy_dir + "/users.acl",
                        "replica-announce-ip 127.0.0.1"};
    }
    o.extra_config.insert(o.extra_config.end(), extra.begin(), extra.end());
    return o;
  };
  data_.push_back(std::make_unique<RedisServerProcess>(data_options({})));
  if (auto started = data_[0]->Start(); !started) return started;
  const std::string primary_port = std::to_string(data_[0]->port());
  for (std::size_t i = 1; i < kDataNodes; ++i) {
    data_.push_back(std::make_unique<RedisServerProcess>(
        data_options({"replicaof 127.0.0.1 " + primary_port})));
    if (auto started = data_[i]->Start(); !started) return started;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (true) {
    const std::string info = Text(RedisCommand(*data_[0], {"INFO", "replication"}));
    if (InfoField(info, "connected_slaves") == static_cast<long long>(kDataNodes - 1)) {
      bool synced = true;
      for (std::size_t i = 1; i < kDataNodes; ++i) {
        const std::string r = Text(RedisCommand(*data_[i], {"INFO", "replication"}));
        synced = synced && r.find("master_link_status:up") != std::string::npos;
      }
      if (synced) break;
    }
    if (Clock::now() > deadline) {
      return ::testing::AssertionFailure() << "the replicas did not sync in 30 s\n" << Logs();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string& m = options_.master_name;
  for (std::size_t i = 0; i < kSentinels; ++i) {
    RedisServerOptions o;
    o.sentinel = true;
    o.password = options_.sentinel_password;
    o.extra_config = {
        "sentinel resolve-hostnames no",
        "sentinel announce-ip 127.0.0.1",
        "sentinel sentinel-pass " + options_.sentinel_password,
        "sentinel monitor " + m + " 127.0.0.1 " + primary_port + " 2",
        "sentinel down-after-milliseconds " + m + " " + std::to_string(options_.down_after_ms),
        "sentinel failover-timeout " + m + " " + std::to_string(options_.failover_timeout_ms),
        "sentinel parallel-syncs " + m + " 1",
        "sentinel auth-pass " + m + " " + options_.password,
        "sentinel rename-command " + m + " CONFIG " + config_secret_,
    };
    if (!options_.deploy_dir.empty()) {
      o.base_config = options_.deploy_dir + "/sentinel.conf";
      o.extra_config = {
          "sentinel resolve-hostnames no",
          "sentinel announce-ip 127.0.0.1",
          "sentinel monitor " + m + " 127.0.0.1 " + primary_port + " 2",
          "sentinel down-after-milliseconds " + m + " " + std::to_string(options_.down_after_ms),
          "sentinel failover-timeout " + m + " " + std::to_string(options_.failover_timeout_ms),
      };
    }
    sentinels_.push_back(std::make_unique<RedisServerProcess>(std::move(o)));
    if (auto started = sentinels_[i]->Start(); !started) return started;
  }
  // Each Sentinel must know both replicas and both other Sentinels before a failover can work.
  while (true) {
    bool ready = true;
    for (auto& s : sentinels_) {
      auto master = RedisCommand(*s, {"SENTINEL", "MASTER", m});
      if (!master || !master->is_array()) {
        ready = false;
        break;
      }
      long long replicas = -1, others = -1;
      const auto& e = master->elements;
      for (std::size_t k = 0; k + 1 < e.size(); k += 2) {
        if (e[k].str == "num-slaves") replicas = std::atoll(e[k + 1].str.c_str());
        if (e[k].str == "num-other-sentinels") others = std::atoll(e[k + 1].str.c_str());
      }
      ready = ready && replicas == static_cast<long long>(kDataNodes - 1) &&
              others == static_cast<long long>(kSentinels - 1);
    }
    if (ready) break;
    if (Clock::now() > deadline) {
      return ::testing::AssertionFailure()
             << "the Sentinels did not discover each other and the replicas in 30 s\n"
             << Logs();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return ::testing::AssertionSuccess();
}

int SentinelDeployment::PrimaryIndex() {
  for (auto& s : sentinels_) {
    if (!s->running()) continue;
    auto r = RedisCommand(*s, {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", options_.master_name});
    if (!r || !r->is_array() || r->elements.size() != 2) continue;
    const int port = std::atoi(r->elements[1].str.c_str());
    for (std::size_t i = 0; i < data_.size(); ++i) {
      if (data_[i]->port() == port) return static_cast<int>(i);
    }
    return -1;
  }
  return -1;
}

int SentinelDeployment::KillPrimary() {
  const int index = PrimaryIndex();
  if (index >= 0) data_[static_cast<std::size_t>(index)]->Kill();
  return index;
}

::testing::AssertionResult SentinelDeployment::WaitForPromotion(int old_index,
                                                                std::chrono::milliseconds limit,
                                                                int* promoted) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    const int now = PrimaryIndex();
    if (now >= 0 && now != old_index) {
      auto role = RedisCommand(*data_[static_cast<std::size_t>(now)], {"ROLE"});
      if (role && role->is_array() && !role->elements.empty() &&
          role->elements[0].str == "master") {
        if (promoted) *promoted = now;
        return ::testing::AssertionSuccess();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ::testing::AssertionFailure()
         << "no replica was promoted within " << limit.count() << " ms\n"
         << Logs();
}

std::string SentinelDeployment::SentinelsEnv() const {
  std::string out;
  for (const auto& s : sentinels_) {
    if (!out.empty()) out += ",";
    out += "127.0.0.1:" + std::to_string(s->port());
  }
  return out;
}

std::vector<std::pair<std::string, std::uint16_t>> SentinelDeployment::SentinelAddresses() const {
  std::vector<std::pair<std::string, std::uint16_t>> out;
  for (const auto& s : sentinels_) out.emplace_back("127.0.0.1", s->port());
  return out;
}

RedisOptions SentinelDeployment::DataNodeOptions(std::size_t i) const {
  return data_[i]->ClientOptions();
}

int SentinelDeployment::PrimaryChanges() const {
  const std::string event = "+switch-master " + options_.master_name + " ";
  int most = 0;
  for (const auto& s : sentinels_) {
    const std::string log = s->log();
    int n = 0;
    for (auto at = log.find(event); at != std::string::npos; at = log.find(event, at + 1)) ++n;
    most = std::max(most, n);
  }
  return most;
}

std::string SentinelDeployment::Logs() const {
  std::string out;
  for (std::size_t i = 0; i < data_.size(); ++i) {
    out += "---- data node " + std::to_string(i) + " ----\n" + data_[i]->log();
  }
  for (std::size_t i = 0; i < sentinels_.size(); ++i) {
    out += "---- sentinel " + std::to_string(i) + " ----\n" + sentinels_[i]->log();
  }
  return out;
}

}  // namespace keycache::testing
