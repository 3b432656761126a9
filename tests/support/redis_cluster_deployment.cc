#include "support/redis_cluster_deployment.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "support/free_port.h"
#include "support/keycached_process.h"
#include "support/redis_config_rewrite.h"

namespace keycache::testing {
namespace {

constexpr int kNodes = 6;

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

}  // namespace

RedisClusterDeployment::RedisClusterDeployment(RedisClusterDeploymentOptions options)
    : options_(std::move(options)),
      password_(options_.deploy_dir.empty()
                    ? kClusterPassword
                    : AclPassword(ReadTextFile(options_.deploy_dir + "/users.acl"), "default")) {}

RedisClusterDeployment::RedisClusterDeployment(int node_timeout_ms, std::string deploy_dir)
    : RedisClusterDeployment(RedisClusterDeploymentOptions{.node_timeout_ms = node_timeout_ms,
                                                           .deploy_dir = std::move(deploy_dir)}) {}

RedisClusterDeployment::~RedisClusterDeployment() {
  for (auto& n : nodes_) n->Kill();
}

::testing::AssertionResult RedisClusterDeployment::Start() {
  const std::string& deploy_dir = options_.deploy_dir;
  const std::string node_timeout = std::to_string(options_.node_timeout_ms);
  for (int i = 0; i < kNodes; ++i) {
    RedisServerOptions o;
    o.password = kClusterPassword;
    o.hardened = true;
    o.config_command = "CONFIG_cluster_secret_7f3a";
    o.maxmemory_policy = "noeviction";
    o.more_users = options_.users;
    o.extra_config = {"cluster-enabled yes",
                      "cluster-config-file nodes.conf",
                      "cluster-node-timeout " + node_timeout,
                      "cluster-port " + std::to_string(FreeLoopbackPort()),
                      "masterauth " + kClusterPassword,
                      "cluster-replica-validity-factor 0",
                      "cluster-allow-reads-when-down no"};
    if (!deploy_dir.empty()) {
      o.password = password_;
      o.base_config = deploy_dir + "/cluster/node-" + std::to_string(i + 1) + ".conf";
      o.extra_config = {"aclfile " + deploy_dir + "/users.acl", "cluster-config-file nodes.conf",
                        "cluster-node-timeout " + node_timeout,
                        "cluster-port " + std::to_string(FreeLoopbackPort())};
    }
    if (const auto& tls = options_.tls) {
      // The bus and replication links are TLS client connections too: they present the client
      // certificate (the server's is for serverAuth only) and authenticate as the default user.
      o.tls = RedisServerOptions::Tls{tls->server_cert, tls->server_key, tls->ca,
                                      tls->require_client_cert};
      o.extra_config.insert(o.extra_config.end(), {"tls-cluster yes", "tls-replication yes",
                                                   "tls-client-cert-file " + tls->client_cert,
                                                   "tls-client-key-file " + tls->client_key});
    }
    nodes_.push_back(std::make_unique<RedisServerProcess>(std::move(o)));
    if (auto started = nodes_.back()->Start(); !started) return started;
  }
  std::string hosts;
  for (int i = 0; i < kNodes; ++i) hosts += " " + endpoint(i).ToString();
  int status = 0;
  const std::string out = RunCommand(
      RedisCli(60) + " --cluster create" + hosts + " --cluster-replicas 1 --cluster-yes", &status);
  if (status != 0) {
    return ::testing::AssertionFailure() << "redis-cli --cluster create failed:\n" << out;
  }
  if (auto healthy = WaitHealthy(std::chrono::seconds(60)); !healthy) return healthy;
  return WaitReplicasInSync(std::chrono::seconds(60));
}

::testing::AssertionResult RedisClusterDeployment::WaitReplicasInSync(
    std::chrono::milliseconds bound) {
  std::string why;
  const bool synced = PollUntil(
      [&] {
        for (int p : Primaries()) {
          const std::string info = Cli(p, "INFO replication");
          if (info.find("connected_slaves:0") != std::string::npos ||
              info.find("state=online") == std::string::npos) {
            why = endpoint(p).ToString() + ": " + info;
            return false;
          }
        }
        return true;
      },
      bound, std::chrono::milliseconds(100));
  if (synced) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "a primary has no replica in sync: " << why;
}

RedisEndpoint RedisClusterDeployment::endpoint(int i) const {
  return RedisEndpoint{"127.0.0.1", nodes_[static_cast<std::size_t>(i)]->port()};
}

std::vector<RedisEndpoint> RedisClusterDeployment::Seeds() const {
  std::vector<RedisEndpoint> out;
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) out.push_back(endpoint(i));
  return out;
}

RedisClusterOptions RedisClusterDeployment::ClientOptions() const {
  RedisClusterOptions o;
  o.seeds = Seeds();
  o.node.password = password_;
  if (const auto& tls = options_.tls) {
    o.node.tls.enabled = true;
    o.node.tls.ca = tls->ca;
    o.node.tls.cert = tls->client_cert;
    o.node.tls.key = tls->client_key;
  }
  o.node.pool_size = 2;
  o.node.connect_timeout = std::chrono::milliseconds(2'000);
  o.node.command_timeout = std::chrono::milliseconds(2'000);
  o.refresh_interval = std::chrono::milliseconds(500);
  return o;
}

std::string RedisClusterDeployment::RunCommand(const std::string& command, int* status) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    if (status) *status = -1;
    return out;
  }
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int rc = ::pclose(pipe);
  if (status) *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

std::string RedisClusterDeployment::RedisCli(int timeout_seconds) const {
  std::string cli =
      "REDISCLI_AUTH=" + password_ + " timeout " + std::to_string(timeout_seconds) + " redis-cli";
  if (const auto& tls = options_.tls) {
    cli += " --tls --cacert '" + tls->ca + "' --cert '" + tls->client_cert + "' --key '" +
           tls->client_key + "'";
  }
  return cli;
}

int RedisClusterDeployment::FailoversWon() const {
  static const std::string kWon = "Failover election won";
  int won = 0;
  for (const auto& n : nodes_) {
    const std::string log = n->log();
    for (auto at = log.find(kWon); at != std::string::npos; at = log.find(kWon, at + 1)) ++won;
  }
  return won;
}

std::string RedisClusterDeployment::Cli(int i, const std::string& args) {
  return RunCommand(RedisCli(10) + " -h 127.0.0.1 -p " + std::to_string(node(i).port()) + " " +
                    args);
}

std::vector<ClusterNodeInfo> RedisClusterDeployment::Nodes(int i) {
  std::vector<ClusterNodeInfo> out;
  if (!node(i).running()) return out;
  for (const std::string& line : Split(Cli(i, "CLUSTER NODES"), '\n')) {
    const auto f = Split(line, ' ');
    if (f.size() < 8) continue;
    ClusterNodeInfo n;
    n.id = f[0];
    const std::string addr = f[1].substr(0, f[1].find('@'));
    auto e = ParseEndpoint(addr);
    if (!e) continue;
    n.address = *e;
    n.primary = f[2].find("master") != std::string::npos;
    n.failed = f[2].find("fail") != std::string::npos;
    n.primary_id = f[3] == "-" ? "" : f[3];
    for (std::size_t k = 8; k < f.size(); ++k) {
      if (f[k].starts_with("[")) continue;  // a slot being migrated
      const auto dash = f[k].find('-');
      try {
        if (dash == std::string::npos) {
          const int s = std::stoi(f[k]);
          n.slots.emplace_back(s, s);
        } else {
          n.slots.emplace_back(std::stoi(f[k].substr(0, dash)), std::stoi(f[k].substr(dash + 1)));
        }
      } catch (const std::exception&) {
        continue;
      }
    }
    out.push_back(std::move(n));
  }
  return out;
}

int RedisClusterDeployment::IndexOf(const RedisEndpoint& e) const {
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    if (endpoint(i) == e) return i;
  }
  return -1;
}

std::optional<int> RedisClusterDeployment::PrimaryOf(int slot) {
  for (int i = 0; i < size(); ++i) {
    if (!node(i).running()) continue;
    for (const auto& n : Nodes(i)) {
      if (!n.primary || n.failed) continue;
      for (auto [a, b] : n.slots) {
        if (slot >= a && slot <= b) return IndexOf(n.address);
      }
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::vector<int> RedisClusterDeployment::Primaries() {
  std::vector<int> out;
  for (int i = 0; i < size(); ++i) {
    if (!node(i).running()) continue;
    for (const auto& n : Nodes(i)) {
      if (n.primary && !n.failed && !n.slots.empty()) out.push_back(IndexOf(n.address));
    }
    break;
  }
  return out;
}

bool RedisClusterDeployment::Healthy(std::string* why) {
  std::map<int, std::string> owner_by_first_slot;
  std::optional<std::string> reference;
  for (int i = 0; i < size(); ++i) {
    if (!node(i).running()) continue;
    const std::string info = Cli(i, "CLUSTER INFO");
    if (info.find("cluster_state:ok") == std::string::npos) {
      if (why) *why = "node " + endpoint(i).ToString() + ": " + info.substr(0, 40);
      return false;
    }
    std::string view;
    std::vector<std::string> lines;
    for (const auto& n : Nodes(i)) {
      if (!n.primary || n.failed) continue;
      for (auto [a, b] : n.slots) {
        lines.push_back(std::to_string(a) + "-" + std::to_string(b) + "@" + n.address.ToString());
      }
    }
    std::sort(lines.begin(), lines.end());
    for (const auto& l : lines) view += l + " ";
    if (!reference) {
      reference = view;
    } else if (*reference != view) {
      if (why) *why = "nodes disagree on the slots: " + *reference + " vs " + view;
      return false;
    }
  }
  return reference.has_value();
}

::testing::AssertionResult RedisClusterDeployment::WaitHealthy(std::chrono::milliseconds bound) {
  std::string why;
  if (PollUntil([&] { return Healthy(&why); }, bound, std::chrono::milliseconds(100))) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "the cluster did not become healthy: " << why;
}

::testing::AssertionResult RedisClusterDeployment::KillPrimaryAndWaitFailover(
    int i, std::chrono::milliseconds bound) {
  const RedisEndpoint dead = endpoint(i);
  node(i).Kill();
  const bool promoted = PollUntil(
      [&] {
        for (int k = 0; k < size(); ++k) {
          if (!node(k).running()) continue;
          const auto info = Cli(k, "CLUSTER INFO");
          if (info.find("cluster_state:ok") == std::string::npos) return false;
          for (const auto& n : Nodes(k)) {
            if (n.address == dead && n.primary && !n.failed && !n.slots.empty()) return false;
          }
          return true;
        }
        return false;
      },
      bound, std::chrono::milliseconds(50));
  if (!promoted) {
    return ::testing::AssertionFailure() << "no replica took over from " << dead.ToString();
  }
  return WaitHealthy(bound);
}

::testing::AssertionResult RedisClusterDeployment::RestartNode(int i,
                                                               std::chrono::milliseconds bound) {
  if (auto started = node(i).Start(); !started) return started;
  if (auto healthy = WaitHealthy(bound); !healthy) return healthy;
  return WaitReplicasInSync(bound);
}

::testing::AssertionResult RedisClusterDeployment::Reshard(int from, int to, int count) {
  const auto id_of = [&](int i) {
    std::string id = Cli(i, "CLUSTER MYID");
    while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
    return id;
  };
  int status = 0;
  const std::string out = RunCommand(
      RedisCli(120) + " --cluster reshard " + endpoint(from).ToString() + " --cluster-from " +
          id_of(from) + " --cluster-to " + id_of(to) + " --cluster-slots " + std::to_string(count) +
          " --cluster-yes --cluster-pipeline 100",
      &status);
  if (status != 0) {
    return ::testing::AssertionFailure() << "redis-cli --cluster reshard failed:\n" << out;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace keycache::testing
