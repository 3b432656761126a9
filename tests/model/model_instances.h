// ModelInstances: what the model driver (model_driver.h) needs of a deployment — its keycached
// instances' addresses, a client for each, and whether each is still alive. Implemented by
// ModelCluster (one Redis, faults of model_test.cc) and ClusterModel (a Redis Cluster,
// cluster_fault_test.cc). Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "integration/redis_tier_util.h"

namespace keycache::testing::model {

class ModelInstances {
 public:
  virtual ~ModelInstances() = default;
  virtual int size() const = 0;
  virtual const std::string& address(int i) const = 0;
  virtual std::uint16_t port(int i) const = 0;
  // False once instance i has exited; `*status` then holds its exit status (128 + signal).
  virtual bool Alive(int i, int* status = nullptr) = 0;
  // Instance i's log so far (stdout and stderr).
  virtual std::string Log(int i) = 0;

  std::unique_ptr<ApiClient> Client(int i) const {
    return std::make_unique<ApiClient>(address(i), port(i), kSharedToken);
  }
};

}  // namespace keycache::testing::model
