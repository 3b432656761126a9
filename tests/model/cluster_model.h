// ClusterModel: the model-based test's deployment on a Redis Cluster: a RedisClusterDeployment
// (six nodes, three primaries), one database (ModelStore: SQLite or a PostgreSQL server it
// starts) and N keycached instances sharing both with the same pepper and admin token, all on
// loopback (no network namespace: the faults here are the cluster's own — a primary killed,
// slots resharded). ClusterModelOptions::tls makes the nodes TLS only (bus and replication too;
// a test PKI, client certificates required) and ::service_user has the instances authenticate as
// the shipped service user (deploy/redis/users.acl's `keycache` rules) instead of the default one.
//
// Thread-safety: Alive(), Healthy() and the accessors may be called from any thread; Start,
// StopAll and the cluster helpers from the test's main thread.
#pragma once

#include <string>
#include <vector>

#include "model/instance_set.h"
#include "model/model_instances.h"
#include "model/model_store.h"
#include "support/keycached_process.h"
#include "support/redis_cluster_deployment.h"
#include "support/test_certs.h"

namespace keycache::testing::model {

struct ClusterModelOptions {
  StoreKind store = StoreKind::kSqlite;
  // TLS-only nodes (a test PKI; the instances verify the nodes against its CA and present its
  // client certificate, which the nodes require).
  bool tls = false;
  // The instances authenticate as ACL user `keycache` with the rules of the shipped
  // deploy/redis/users.acl (and a test password); the key prefix is then the one those rules
  // allow, cache:apikeys:. Otherwise as the default user, under model:apikeys:.
  bool service_user = false;
};

class ClusterModel final : public ModelInstances {
 public:
  ClusterModel(int instances, EnvVars extra_env, ClusterModelOptions options = {});
  ~ClusterModel() override;

  // Starts the store, the cluster and every instance (each ready).
  ::testing::AssertionResult Start();

  int size() const override { return instances_.size(); }
  const std::string& address(int i) const override { return instances_.address(i); }
  std::uint16_t port(int i) const override { return instances_.port(i); }
  bool Alive(int i, int* status = nullptr) override { return instances_.Alive(i, status); }
  std::string Log(int i) override { return instances_.instance(i).log(); }
  KeycachedProcess& instance(int i) { return instances_.instance(i); }
  RedisClusterDeployment& redis() { return cluster_; }
  ModelStore& store() { return store_; }
  InstanceSet& instances() { return instances_; }
  // REDIS_KEY_PREFIX of the instances (the channel is <prefix>invalidations).
  const std::string& key_prefix() const { return key_prefix_; }

  // Every instance with its breaker closed, its lease held and its channel subscribed.
  bool Healthy(std::string* why) { return instances_.Healthy(false, true, why); }
  std::vector<int> StopAll() { return instances_.StopAll(); }  // SIGTERM to each; exit statuses

 private:
  // The certificates, the cluster and the store outlive the instances.
  const ClusterModelOptions options_;
  const std::string key_prefix_;
  TempDir certs_;
  const TestPki pki_;  // options_.tls only
  RedisClusterDeployment cluster_;
  ModelStore store_;
  EnvVars extra_env_;
  InstanceSet instances_;
};

}  // namespace keycache::testing::model
