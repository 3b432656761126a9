// ClusterModel: the model-based test's deployment on a Redis Cluster: a RedisClusterDeployment
// (six nodes, three primaries), one database (ModelStore: SQLite or a PostgreSQL server it
// starts) and N keycached instances sharing both with the same pepper and admin token, all on
// loopback (no network namespace: the faults here are the cluster's own — a primary killed,
// slots resharded).
//
// Thread-safety: Alive(), Healthy() and the accessors may be called from any thread; Start,
// StopAll and the cluster helpers from the test's main thread.
#pragma once

#include <string>
#include <vector>

#include "model/instance_set.h"
#include "model/model_instances.h"
#include "model/model_store.h"
#include "support/redis_cluster_deployment.h"

namespace keycache::testing::model {

class ClusterModel final : public ModelInstances {
 public:
  ClusterModel(int instances, EnvVars extra_env, StoreKind store = StoreKind::kSqlite);
  ~ClusterModel() override;

  // Starts the store, the cluster and every instance (each ready).
  ::testing::AssertionResult Start();

  int size() const override { return instances_.size(); }
  const std::string& address(int i) const override { return instances_.address(i); }
  std::uint16_t port(int i) const override { return instances_.port(i); }
  bool Alive(int i, int* status = nullptr) override { return instances_.Alive(i, status); }
  KeycachedProcess& instance(int i) { return instances_.instance(i); }
  RedisClusterDeployment& redis() { return cluster_; }
  ModelStore& store() { return store_; }
  InstanceSet& instances() { return instances_; }

  // Every instance with its breaker closed, its lease held and its channel subscribed.
  bool Healthy(std::string* why) { return instances_.Healthy(false, true, why); }
  std::vector<int> StopAll() { return instances_.StopAll(); }  // SIGTERM to each; exit statuses

 private:
  // The cluster and the store outlive the instances.
  RedisClusterDeployment cluster_;
  ModelStore store_;
  EnvVars extra_env_;
  InstanceSet instances_;
};

}  // namespace keycache::testing::model
