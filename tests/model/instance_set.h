// InstanceSet: the keycached processes of a model deployment — started one after another from one
// environment (plus each one's own adjustments), their addresses, ports and pids, whether each is
// still alive, and graceful stops. ModelCluster and ClusterModel both launch theirs through it.
// Thread-safety: Alive(), pid() and the accessors may be called from any thread; Launch and
// StopAll from the test's main thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/keycached_process.h"

namespace keycache::testing::model {

class InstanceSet {
 public:
  explicit InstanceSet(int count);
  ~InstanceSet();  // SIGKILL whatever still runs

  // Starts `count` instances (each ready) with `env`, KEYCACHE_INSTANCE_ID=<name_prefix><i>
  // and whatever `adjust(i, options)` changes.
  ::testing::AssertionResult Launch(const EnvVars& env, const std::string& name_prefix,
                                    const std::function<void(int, KeycachedOptions&)>& adjust = {});

  int size() const { return count_; }
  KeycachedProcess& instance(int i) { return *processes_[static_cast<std::size_t>(i)]; }
  const std::string& address(int i) const { return addresses_[static_cast<std::size_t>(i)]; }
  std::uint16_t port(int i) const { return ports_[static_cast<std::size_t>(i)]; }
  pid_t pid(int i) const;

  // False once instance i has exited; `*status` then holds its exit status (128 + signal).
  bool Alive(int i, int* status = nullptr);
  // SIGTERM to each; their exit statuses (0 expected).
  std::vector<int> StopAll();

  // Where the instances' invalidation channel is: Redis's tier, or (no Redis) PostgreSQL's
  // LISTEN/NOTIFY channel.
  enum class Channel { kRedis, kPostgres };

  // Every instance's invalidation channel usable: subscribed (kRedis: and the breaker closed), and
  // (`lease`) its coherence lease held, and (`ready`) /health/ready 200 (the database reachable).
  // Otherwise false and `why` says which instance and what.
  bool Healthy(bool ready, bool lease, std::string* why, Channel channel = Channel::kRedis) const;

 private:
  const int count_;
  std::vector<std::unique_ptr<KeycachedProcess>> processes_;
  std::vector<std::string> addresses_;
  std::vector<std::uint16_t> ports_;
  std::vector<pid_t> pids_;
  mutable std::mutex mu_;  // guards the processes' running() / Stop() and pids_
};

}  // namespace keycache::testing::model
