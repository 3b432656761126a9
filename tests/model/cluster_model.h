// ClusterModel: the model-based test's deployment on a Redis Cluster: a RedisClusterDeployment
// (six nodes, three primaries), one SQLite database and N keycached instances sharing both with
// the same pepper and admin token, all on loopback (no network namespace: the faults here are the
// cluster's own — a primary killed, slots resharded).
//
// Thread-safety: Alive(), Healthy() and the accessors may be called from any thread; Start,
// StopAll and the cluster helpers from the test's main thread.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/model_instances.h"
#include "support/redis_cluster_deployment.h"

namespace keycache::testing::model {

class ClusterModel final : public ModelInstances {
 public:
  ClusterModel(int instances, EnvVars extra_env);
  ~ClusterModel() override;

  // Starts the cluster and every instance (each ready).
  ::testing::AssertionResult Start();

  int size() const override { return count_; }
  const std::string& address(int /*i*/) const override { return address_; }
  std::uint16_t port(int i) const override { return ports_[static_cast<std::size_t>(i)]; }
  bool Alive(int i, int* status = nullptr) override;
  KeycachedProcess& instance(int i) { return *instances_[static_cast<std::size_t>(i)]; }
  RedisClusterDeployment& redis() { return cluster_; }

  // Every instance ready, with its breaker closed, its lease held and its channel subscribed.
  bool Healthy(std::string* why);
  std::vector<int> StopAll();  // SIGTERM to each; their exit statuses

 private:
  const int count_;
  const std::string address_ = "127.0.0.1";
  RedisClusterDeployment cluster_;
  TempDir shared_;
  EnvVars extra_env_;
  std::vector<std::unique_ptr<KeycachedProcess>> instances_;
  std::vector<std::uint16_t> ports_;
  mutable std::mutex mu_;  // guards the processes' running() / Stop()
};

}  // namespace keycache::testing::model
