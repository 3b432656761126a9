// RedisClusterDeployment: a real Redis Cluster for tests: six hardened redis-server processes
// (cluster-enabled, requirepass + masterauth, CONFIG renamed to a secret: `redis-cli --cluster
// create` and `reshard` do not need it) on free loopback ports, joined with `redis-cli --cluster
// create --cluster-replicas 1` (three primaries, one replica each). Helpers to find the primary of
// a slot, kill a primary and wait for its replica's promotion, and reshard slots while serving.
// Optionally TLS only (`port 0` + `tls-port`, the cluster bus and replication over TLS too:
// `tls-cluster yes`, `tls-replication yes`), and more ACL users beside the nodes' default user
// (which the cluster bus, replication and the harness's own redis-cli calls keep using).
// Everything it started is killed in the destructor. Not thread-safe: one test thread drives it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "redis/redis_cluster_client.h"
#include "redis/redis_endpoint.h"
#include "support/redis_server_process.h"
#include "support/test_certs.h"

namespace keycache::testing {

inline const std::string kClusterPassword = "cluster-pass-0123456789";

// One line of CLUSTER NODES.
struct ClusterNodeInfo {
  std::string id;
  RedisEndpoint address;
  bool primary = false;
  bool failed = false;                     // flagged fail or fail?
  std::string primary_id;                  // of a replica
  std::vector<std::pair<int, int>> slots;  // served ranges (primaries)
};

struct RedisClusterDeploymentOptions {
  // cluster-node-timeout (how fast a dead primary is failed over).
  int node_timeout_ms = 1'000;
  // A deploy/redis/ folder: when set, node i starts from its cluster/node-<i+1>.conf (which
  // includes its redis.conf, with its users.acl; RedisServerOptions::base_config), the harness
  // rewriting ports, paths and the node timeout only; the password is the file's.
  std::string deploy_dir;
  struct Tls {
    std::string ca;                       // tls-ca-cert-file: verifies servers and clients
    std::string server_cert, server_key;  // every node's (SAN IP:127.0.0.1)
    std::string client_cert, client_key;  // the nodes' outgoing bus and replication links
                                          // (tls-client-cert-file) and the harness's clients
    bool require_client_cert = true;      // tls-auth-clients yes (else no)
  };
  // TLS only: no plaintext port; the nodes announce, and redirect to, their TLS ports.
  std::optional<Tls> tls;
  // More ACL users on every node (generated configs only), e.g. the service's user with the
  // rules of deploy/redis/users.acl (AclRules).
  std::vector<RedisServerOptions::AclUser> users;

  // TLS-only nodes with `pki`'s certificates, client certificates required.
  static Tls TlsFrom(const TestPki& pki) {
    return Tls{pki.ca_cert, pki.server_cert, pki.server_key, pki.client_cert, pki.client_key, true};
  }
};

class RedisClusterDeployment {
 public:
  explicit RedisClusterDeployment(RedisClusterDeploymentOptions options);
  explicit RedisClusterDeployment(int node_timeout_ms = 1'000, std::string deploy_dir = {});
  ~RedisClusterDeployment();
  RedisClusterDeployment(const RedisClusterDeployment&) = delete;
  RedisClusterDeployment& operator=(const RedisClusterDeployment&) = delete;

  // Starts the six servers, creates the cluster, waits until every node says cluster_state:ok
  // and agrees on the slots (bounded: ~60 s).
  ::testing::AssertionResult Start();

  int size() const { return static_cast<int>(nodes_.size()); }
  RedisServerProcess& node(int i) { return *nodes_[static_cast<std::size_t>(i)]; }
  RedisEndpoint endpoint(int i) const;
  std::vector<RedisEndpoint> Seeds() const;  // every node
  // Options for a RedisClusterClient of this cluster (the default user's auth, TLS with the
  // client certificate; short timeouts for tests).
  RedisClusterOptions ClientOptions() const;
  const RedisClusterDeploymentOptions& options() const { return options_; }

  // CLUSTER NODES as seen by node i (running), or empty when it does not answer.
  std::vector<ClusterNodeInfo> Nodes(int i);
  // The index of the node serving `slot` according to the first running node; nullopt if none.
  std::optional<int> PrimaryOf(int slot);
  std::vector<int> Primaries();               // indices of the running primaries that serve slots
  int IndexOf(const RedisEndpoint& e) const;  // -1 if not ours

  // Every running node reports cluster_state:ok and the same owner for every slot.
  bool Healthy(std::string* why = nullptr);
  ::testing::AssertionResult WaitHealthy(std::chrono::milliseconds bound);
  // Every primary serving slots has a replica whose link is up (state=online): a WAIT 1 is
  // answered at once.
  ::testing::AssertionResult WaitReplicasInSync(std::chrono::milliseconds bound);

  // SIGKILLs primary i and waits until a replica serves its slots and the cluster is ok.
  ::testing::AssertionResult KillPrimaryAndWaitFailover(int i, std::chrono::milliseconds bound);
  // Starts node i again (same port and nodes.conf): it rejoins as a replica; waits until every
  // primary has a replica in sync again.
  ::testing::AssertionResult RestartNode(int i, std::chrono::milliseconds bound);
  // `redis-cli --cluster reshard`: moves `count` slots (with their keys) from primary `from` to
  // primary `to`.
  ::testing::AssertionResult Reshard(int from, int to, int count);

  // How many replicas won a failover election since Start, from the nodes' logs ("Failover
  // election won"): the failovers a test caused, plus any the cluster made by itself (a node
  // that missed cluster-node-timeout under load is failed over like a dead one).
  int FailoversWon() const;

  const std::string& password() const { return password_; }
  // Runs redis-cli against node i with the password (REDISCLI_AUTH; over TLS with the client
  // certificate when the nodes are TLS only) and returns its stdout.
  std::string Cli(int i, const std::string& args);

 private:
  std::string RunCommand(const std::string& command, int* status = nullptr);
  // "REDISCLI_AUTH=... timeout <seconds> redis-cli [--tls --cacert .. --cert .. --key ..]".
  std::string RedisCli(int timeout_seconds) const;

  const RedisClusterDeploymentOptions options_;
  const std::string password_;  // of the nodes' default user
  std::vector<std::unique_ptr<RedisServerProcess>> nodes_;
};

}  // namespace keycache::testing
