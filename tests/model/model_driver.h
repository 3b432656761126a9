// ModelDriver: the client side of the model-based test. Client threads issue a seeded random
// mix of key lifecycle changes and verifications (valid, revoked, expired, disabled, rotated,
// deleted, forged, wrong-secret, malformed and garbage keys; /v1/keys/verify and /v1/auth)
// against random instances of a deployment (ModelInstances), and judge every answer with the oracle
// (model_oracle.h) and the fault timeline (faults.h). Violations are collected with the
// operation log of the key concerned; nothing is asserted from the client threads.
//
// Thread-safety: the public members may be called from any thread; the client threads share
// the model under one mutex (requests are sent outside it).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "model/faults.h"
#include "model/model_instances.h"
#include "model/model_oracle.h"

namespace keycache::testing::model {

struct DriverOptions {
  std::uint64_t seed = 0;
  int threads = 6;      // each thread talks to instance (thread % instances)
  Ms bound = 1250;      // coherence lease + margin
  Ms time_slack = 250;  // around expiry and the end of a grace period
  // Names left out of the mix (KEYCACHE_MODEL_EXCLUDE): presented-key kinds ("unknown",
  // "wrong_secret", "malformed", "garbage", "missing") and operations ("create", "patch_scopes",
  // "patch_enabled", "revoke", "rotate", "delete", "invalidate").
  std::set<std::string> exclude;
  std::string trace_file;  // KEYCACHE_MODEL_TRACE: every request, one line each
};

class ModelDriver {
 public:
  ModelDriver(ModelInstances& cluster, const FaultTimeline& timeline, DriverOptions options);
  ~ModelDriver();  // stops the client threads

  // Creates `n` keys from the calling thread (before the clients start).
  void Populate(int n);
  void StartClients();
  void StopClients();

  // After the faults are healed and settled: reads back the record of every key whose last
  // change was ambiguous and settles it (from the calling thread).
  void ResolveAmbiguous();
  // ResolveAmbiguous() until nothing is left unresolved or `bound` passes.
  void ResolveAll(std::chrono::milliseconds bound);
  // Verifies every key on every instance once (clients stopped, cluster quiet).
  void FinalSweep(std::size_t max_keys);
  // After every instance was stopped gracefully and one restarted: compares each key's
  // request_count with the VALID answers seen (through `api`), for up to `max_keys` keys.
  void CheckUsage(ApiClient& api, std::size_t max_keys);

  // An instance died: records it with what was in flight on it and its last requests.
  void ReportCrash(int instance, int status, const std::string& log_tail);

  // A violation found outside the client threads (fault machinery, recovery).
  void AddViolation(std::string what);
  std::vector<std::string> violations() const;
  std::size_t violation_count() const;
  std::string Report() const;
  std::uint64_t operations() const { return operations_.load(); }
  Ms start() const { return start_; }  // the origin of the "+12.345s" times in messages

 private:
  struct ModelKey;
  struct Forged;
  struct Outcome;
  class Client;

  enum class Presented { kReal, kWrongSecret, kUnknown, kMalformed, kGarbage, kMissing };

  void ClientLoop(int thread);
  // Verifications only, on instance (thread % instances), of keys most likely stale there (changed
  // through another instance since it answered for them): requests that hang on a fault never leave
  // an instance unprobed.
  void ProbeLoop(int thread);
  void DoVerify(Client& c, bool auth, bool probe = false);
  void DoCreate(Client& c);
  void DoChange(Client& c, const std::string& op);
  void DoInvalidate(Client& c);

  // Retires keys that are gone for a while (from active_); returns how many keys are live
  // (mu_ held).
  std::size_t Prune(Ms now);
  // Picks a key for a change (not busy, existing, no unresolved change) and marks it busy.
  ModelKey* TakeForChange(std::mt19937_64& rng, bool needs_unrevoked);
  ModelKey* PickForVerify(std::mt19937_64& rng, int instance, bool probe);

  // Judges an answer to a verification of a model key's real secret (mu_ held).
  void JudgeReal(ModelKey& k, int instance, bool auth, const std::vector<std::string>& required,
                 Ms s, Ms r, const Outcome& outcome);
  // Whether a 5xx / no answer at [s, r] on `instance` is excused by a fault window.
  bool Excused(int instance, Ms s, Ms r) const;
  // False once the instance has exited (its failures are then reported as the crash).
  bool Reachable(int instance);
  void Violation(const std::string& what, const ModelKey* key);  // mu_ held
  void NoteInstance(int instance, std::string line);             // mu_ held
  std::string Rel(Ms t) const;                                   // "+12.345s" since the start
  // Instance `i`'s WARN and ERROR lines logged in [from, to] (the last few, shortened, on one
  // line): what the instance itself saw around a failure the test cannot explain.
  std::string WarningsAround(int i, Ms from, Ms to) const;
  // "; instance i's warnings from 3 s before: ..." for a request sent at s, answered at r.
  std::string Warnings(int i, Ms s, Ms r) const {
    return "; instance " + std::to_string(i) +
           "'s warnings from 3 s before: " + WarningsAround(i, s - 3000, r + 100);
  }

  ModelInstances& cluster_;
  const FaultTimeline& timeline_;
  const DriverOptions options_;
  const Ms start_;
  const std::vector<std::string> owners_;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<ModelKey>> keys_;  // every key ever known, in creation order
  std::vector<ModelKey*> active_;                // those not retired (see Prune)
  Ms last_prune_ = 0;
  std::size_t live_ = 0;  // active keys neither revoked nor expired, as of the last Prune
  std::vector<std::unique_ptr<Forged>> forged_;
  std::vector<std::deque<std::string>> instance_log_;  // last requests per instance
  struct Request {
    std::string what, key_id;
    Ms sent = 0;
  };
  std::vector<std::map<int, Request>> in_flight_;  // per instance: thread -> request
  std::vector<std::vector<Request>> unanswered_;   // per instance: transport errors
  std::ofstream trace_;
  std::vector<std::string> violations_;
  std::size_t violation_count_ = 0;
  std::map<std::string, std::int64_t> violations_by_fault_;
  std::map<std::string, std::int64_t> ops_by_kind_, answers_by_code_, ambiguous_by_op_;
  std::map<std::string, std::int64_t> unanswered_by_fault_;
  std::map<std::string, Ms> max_staleness_;  // by fault kind ("none" when healthy)
  std::map<int, Ms> max_staleness_by_instance_;
  std::int64_t ambiguous_resolved_effect_ = 0, ambiguous_resolved_void_ = 0;
  std::int64_t unknown_creates_ = 0, usage_checked_ = 0, probe_timeouts_ = 0;
  Ms max_rotate_revoked_at_skew_ = 0;
  bool crashed_ = false;  // an instance died: later violations are not recorded

  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> operations_{0};
  std::vector<std::thread> threads_;
};

}  // namespace keycache::testing::model
