// SentinelDeployment: a Redis primary, two replicas and three Sentinels (quorum 2), all real
// redis-server processes on loopback free ports, each in its own temporary directory, in the
// hardened configuration: requirepass on every node (masterauth on the replicas), FLUSHALL,
// FLUSHDB, KEYS, DEBUG, EVAL and SCRIPT renamed away, CONFIG renamed to a secret name that the
// Sentinels know (`sentinel rename-command`), Sentinels with their own requirepass,
// `sentinel auth-pass`, `resolve-hostnames no`, loopback announce addresses and a short
// down-after. Helpers kill the primary and wait for the promotion. Every process is killed by
// the destructor. Not thread-safe: one test thread drives it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "redis/redis_options.h"
#include "support/redis_server_process.h"

namespace keycache::testing {

struct SentinelDeploymentOptions {
  std::string master_name = "mymaster";
  std::string password = "data-node-secret";          // requirepass of the data nodes
  std::string sentinel_password = "sentinel-secret";  // requirepass of the Sentinels
  // Short for the tests, yet above the longest a loaded 2-core machine was seen to keep a
  // just-promoted primary from answering a Sentinel's PING (about 1 s under ASan with the
  // model's traffic): with 1 s, the Sentinels sometimes judged the new primary down too and
  // failed over a second time, after the test had measured the first failover's end.
  int down_after_ms = 3'000;
  int failover_timeout_ms = 4'000;
  // When set (a deploy/redis/ folder): the data nodes start from its redis.conf (with its
  // users.acl) and the Sentinels from its sentinel.conf (RedisServerOptions::base_config), the
  // harness rewriting addresses, ports, paths, down-after and failover-timeout only; the
  // passwords and CONFIG's secret name are then the files' (`password`, `sentinel_password` are
  // replaced by them in options()).
  std::string deploy_dir;
};

class SentinelDeployment {
 public:
  static constexpr std::size_t kDataNodes = 3;
  static constexpr std::size_t kSentinels = 3;

  explicit SentinelDeployment(SentinelDeploymentOptions options = {});
  ~SentinelDeployment();  // every process SIGKILLed, directories removed
  SentinelDeployment(const SentinelDeployment&) = delete;
  SentinelDeployment& operator=(const SentinelDeployment&) = delete;

  // Starts the primary, the replicas (waits until both are in sync) and the Sentinels (waits
  // until each sees both replicas and both other Sentinels). Up to ~30 s.
  ::testing::AssertionResult Start();

  // Index of the data node the Sentinels name as primary now (asks them; -1 if none answers or
  // the answer is no node of ours).
  int PrimaryIndex();
  // SIGKILLs the current primary; returns its index (-1 if none is known).
  int KillPrimary();
  // Waits until the Sentinels name a live data node other than `old_index` and that node says
  // ROLE master. Its index in `promoted`.
  ::testing::AssertionResult WaitForPromotion(int old_index, std::chrono::milliseconds limit,
                                              int* promoted = nullptr);

  // How many times the primary changed, as the Sentinels' own logs tell it: the most
  // `+switch-master <master>` lines any one Sentinel wrote. Under load Sentinel may fail over
  // twice for one kill (a promotion not confirmed within failover-timeout is abandoned and a
  // later election picks another replica), so a client's count is checked against this, not 1.
  int PrimaryChanges() const;

  RedisServerProcess& data_node(std::size_t i) { return *data_[i]; }
  RedisServerProcess& sentinel(std::size_t i) { return *sentinels_[i]; }
  // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3", as REDIS_SENTINELS takes it.
  std::string SentinelsEnv() const;
  std::vector<std::pair<std::string, std::uint16_t>> SentinelAddresses() const;
  const SentinelDeploymentOptions& options() const { return options_; }
  // The data node's address and password (for a client aimed at one node).
  RedisOptions DataNodeOptions(std::size_t i) const;
  // Every log, for failure messages.
  std::string Logs() const;

 private:
  const SentinelDeploymentOptions options_;
  const std::string config_secret_;  // CONFIG's name on the data nodes
  std::vector<std::unique_ptr<RedisServerProcess>> data_;
  std::vector<std::unique_ptr<RedisServerProcess>> sentinels_;
};

}  // namespace keycache::testing
