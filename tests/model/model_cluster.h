// ModelCluster: the deployment the model-based test drives. One hardened redis-server (CONFIG
// under a secret name for the OOM fault; the instances authenticate as an ACL user the NOPERM
// fault can take INCR from; listening on loopback and on the veth address of the namespace),
// one database, and N keycached instances sharing both with the same pepper and admin
// token. The last instance runs in a network namespace of its own, so its link to Redis can be
// cut silently while the test still reaches its HTTP port.
// With ModelDeployment::kSentinel, Redis is instead a Sentinel deployment (a hardened primary, two
// replicas, three Sentinels: support/sentinel_deployment.h) that the instances reach through
// REDIS_SENTINELS, all instances run in the test's namespace, and only the Sentinel faults
// apply (redis(), redis_faults() and netns() are then unused).
// With ModelDeployment::kNoRedis (PostgreSQL only), there is no Redis at all: the instances, all in
// the test's namespace, keep their L1s coherent over PostgreSQL LISTEN/NOTIFY (docs/adr/0005), and
// none of the Redis faults apply (redis(), redis_faults() and netns() are unused).
//
// Thread-safety: Alive() and the accessors may be called from any thread; Start, Stop and the
// fault helpers from one (the test's main) thread.
//
// The database is SQLite (the default) or a PostgreSQL server the deployment starts (ModelStore);
// every instance gets its DATABASE_URL.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "integration/redis_tier_util.h"
#include "model/instance_set.h"
#include "model/model_instances.h"
#include "model/model_store.h"
#include "support/netns.h"
#include "support/redis_faults.h"
#include "support/sentinel_deployment.h"

namespace keycache::testing::model {

inline const std::string kRedisUser = "keycache";
inline const std::string kRedisUserPassword = "model-acl-pass-0123456789";

enum class ModelDeployment { kStandalone, kSentinel, kNoRedis };

class ModelCluster final : public ModelInstances {
 public:
  // `extra_env` goes on top of every instance's environment.
  ModelCluster(int instances, EnvVars extra_env,
               ModelDeployment deployment = ModelDeployment::kStandalone,
               StoreKind store = StoreKind::kSqlite);
  ~ModelCluster();

  // Creates the namespace, starts the store, Redis and every instance (each ready).
  ::testing::AssertionResult Start();

  int size() const override { return instances_.size(); }
  int isolated() const { return size() - 1; }  // the instance in its own namespace
  KeycachedProcess& instance(int i) { return instances_.instance(i); }
  const std::string& address(int i) const override { return instances_.address(i); }
  std::uint16_t port(int i) const override { return instances_.port(i); }
  pid_t pid(int i) const { return instances_.pid(i); }

  RedisServerProcess& redis() { return deployment_->redis(); }
  RedisFaults& redis_faults() { return *faults_; }
  NetworkNamespace& netns() { return netns_; }
  bool sentinel_mode() const { return deployment_kind_ == ModelDeployment::kSentinel; }
  bool redis_mode() const { return deployment_kind_ != ModelDeployment::kNoRedis; }
  SentinelDeployment& sentinel() { return *sentinel_; }
  ModelStore& store() { return store_; }
  InstanceSet& instances() { return instances_; }

  // False once instance i has exited; `*status` then holds its exit status (128 + signal).
  bool Alive(int i, int* status = nullptr) override { return instances_.Alive(i, status); }
  std::string Log(int i) override { return instances_.instance(i).log(); }
  // Every instance ready, with its breaker closed and its invalidation channel subscribed (without
  // Redis: its PostgreSQL channel listening and its lease held); otherwise false and `why` says
  // which and what.
  bool Healthy(std::string* why) {
    return redis_mode() ? instances_.Healthy(true, false, why)
                        : instances_.Healthy(true, true, why, InstanceSet::Channel::kPostgres);
  }
  // SIGTERM to each; their exit statuses (0 expected).
  std::vector<int> StopAll() { return instances_.StopAll(); }

 private:
  // Declared in the order they must outlive each other: the namespace and the store outlive
  // the instances.
  const ModelDeployment deployment_kind_;
  NetworkNamespace netns_;
  ModelStore store_;
  std::unique_ptr<SharedRedisDeployment> deployment_;
  std::unique_ptr<SentinelDeployment> sentinel_;  // kSentinel only
  std::unique_ptr<RedisFaults> faults_;
  EnvVars extra_env_;
  InstanceSet instances_;
};

}  // namespace keycache::testing::model
