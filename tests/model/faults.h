// The faults of the model-based test, one at a time: what each does to the cluster and how it
// heals, and a timeline of their windows (from injection until the cluster has settled after
// healing), which the oracle consults: 5xx and unanswered verifications are allowed only inside
// a window that concerns the instance. FaultTimeline is thread-safe; FaultInjector is driven
// by one thread.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "model/model_cluster.h"
#include "model/model_oracle.h"
#include "support/pg_session.h"
#include "support/sqlite_lock.h"

namespace keycache::testing::model {

enum class FaultKind {
  kRedisKill,       // SIGKILL, then a restart on the same port (empty: no persistence)
  kRedisPause,      // SIGSTOP ... SIGCONT: connections stay open, nothing answers
  kRedisReadOnly,   // REPLICAOF a closed port: writes answer READONLY
  kRedisOom,        // maxmemory below use, noeviction: writes answer OOM
  kKillPool,        // CLIENT KILL TYPE normal, a few times
  kKillSubscriber,  // CLIENT KILL TYPE pubsub, a few times
  kSilentCut,       // nftables DROP between the isolated instance and Redis
  kDbLock,          // the database write-locked by the test (SQLite: a write transaction;
                    // PostgreSQL: LOCK TABLE api_keys IN EXCLUSIVE MODE, reads still pass)
  kNoPerm,          // the instances' ACL user loses INCR
  // ModelDeployment::kSentinel only (not in kAllFaults): the primary SIGKILLed; healed once the
  // Sentinels have promoted a replica (the dead node stays dead).
  kSentinelFailover,
  // On PostgreSQL only (not in kAllFaults): the server stopped (fast shutdown), restarted on the
  // same port and data after the hold.
  kDbRestart,
};
inline constexpr FaultKind kAllFaults[] = {
    FaultKind::kRedisKill, FaultKind::kRedisPause, FaultKind::kRedisReadOnly,
    FaultKind::kRedisOom,  FaultKind::kKillPool,   FaultKind::kKillSubscriber,
    FaultKind::kSilentCut, FaultKind::kDbLock,     FaultKind::kNoPerm};

std::string_view FaultName(FaultKind kind);

// Wall-clock milliseconds (the oracle's clock).
Ms NowMs();

class FaultTimeline {
 public:
  struct Window {
    std::string kind;
    int instance = -1;  // the one instance it concerns; -1: all
    Ms start = 0, healed = kNever, settled = kNever;
  };

  int Begin(std::string kind, int instance, Ms at);
  void Healed(int id, Ms at);
  void Settled(int id, Ms at);
  // The kind of the window open at `t` ("" when none).
  std::string ActiveAt(Ms t) const;
  // Whether a window concerning `instance` overlaps [from, to].
  bool Covers(int instance, Ms from, Ms to) const;
  std::vector<Window> windows() const;

 private:
  mutable std::mutex mu_;
  std::vector<Window> windows_;
};

class FaultInjector {
 public:
  FaultInjector(ModelCluster& cluster, std::uint64_t seed) : cluster_(cluster), rng_(seed) {}

  // Injects `kind`, keeps it for a random while (sleeping in the calling thread) and heals it.
  // Returns a failure when a helper did not work (the fault machinery, not the system).
  ::testing::AssertionResult Run(FaultKind kind, FaultTimeline& timeline);
  // Heals whatever is still injected (after a failure in the middle of Run).
  void HealAll();

 private:
  ::testing::AssertionResult Inject(FaultKind kind);
  ::testing::AssertionResult Heal(FaultKind kind);
  std::chrono::milliseconds Hold(FaultKind kind);

  ModelCluster& cluster_;
  std::mt19937_64 rng_;
  std::unique_ptr<SqliteWriteLock> db_lock_;
  std::unique_ptr<PgSession> pg_lock_;  // the transaction holding the table lock
  bool paused_ = false, read_only_ = false, oom_ = false, no_perm_ = false;
  int killed_primary_ = -1;  // kSentinelFailover: the data node killed
};

}  // namespace keycache::testing::model
