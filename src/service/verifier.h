// Verifier: the life of a verification. Parse and checksum (no lookup for garbage), L1 lookup by
// key id, HMAC of the presented key compared in constant time, state and scope decision, usage
// counted in memory. On an L1 miss it reads the shared L2 (Redis), then the store (one coalesced
// read per key id: single flight), and fills back up through fill fences (L1 tickets, L2
// generations), so a read that began before a revocation never lands after it. While the Redis
// circuit breaker is open, answers say BYPASS and come from L1 and the store.
// Thread-safe; one instance serves every I/O thread. Async calls must be awaited on a
// single-threaded executor (see Completion).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache/l1_cache.h"
#include "cache/single_flight.h"
#include "cache/usage_counter.h"
#include "core/key_facts.h"
#include "core/key_hasher.h"
#include "l2/l2_cache.h"
#include "service/cache_status.h"
#include "service/db_executor.h"
#include "service/service_metrics.h"
#include "store/key_store.h"
#include "util/clock.h"

namespace keycache {

struct VerifierOptions {
  std::string key_prefix = "ak";
  bool cache_enabled = true;  // false under API_KEY_CACHE_ENABLED=false or EMERGENCY_MODE=true
  // false under KEYCACHE_L1_ENABLED=false with the Redis tier: every lookup goes to L2 (for
  // measuring the L2 path, or for deployments that accept no L1 staleness at all).
  bool l1_enabled = true;
};

struct VerifyOutcome {
  VerifyCode code = VerifyCode::kMalformed;
  CacheStatus cache = CacheStatus::kBypass;
  // Set whenever the presented key matched a stored key (any code but MALFORMED / NOT_FOUND).
  std::shared_ptr<const KeyFacts> facts;
};

class Verifier {
 public:
  Verifier(VerifierOptions options, const KeyHasher& hasher, L1Cache& l1, KeyStore& store,
           DbExecutor& db, UsageCounter& usage, ServiceMetrics& metrics, const Clock& clock,
           L2Cache* l2 = nullptr);

  // Answers from memory alone (malformed keys and L1 hits); nullopt when the store must be read.
  // Never blocks: this is the fast path the HTTP layer calls without a coroutine.
  std::optional<VerifyOutcome> VerifyCached(std::string_view key,
                                            std::span<const std::string> scopes,
                                            std::string_view client_ip);

  // The full path. Errors are backend failures (store down, timeout), never verdicts.
  boost::asio::awaitable<Result<VerifyOutcome>> Verify(std::string key,
                                                       std::vector<std::string> scopes,
                                                       std::string client_ip);

  bool cache_enabled() const { return options_.cache_enabled; }

 private:
  using Loaded = Result<std::shared_ptr<const KeyFacts>>;  // nullptr: no such key

  VerifyOutcome Finish(std::shared_ptr<const KeyFacts> facts, CacheStatus status,
                       std::string_view key, std::span<const std::string> scopes,
                       std::string_view client_ip);
  bool ScopesAllowed(const KeyFacts& facts, std::span<const std::string> scopes);
  // One store read per key id at a time (single flight); `generation` seals the L2 fill.
  boost::asio::awaitable<Loaded> LoadCoalesced(KeyId id, std::optional<std::uint64_t> generation);
  // The L2 attempt: facts (or "no such key") when L2 held a current entry that L1 accepted;
  // nullopt otherwise, with the generation to seal the store's answer under (unset when Redis
  // was not consulted or the entry was overtaken by a change).
  boost::asio::awaitable<std::optional<Loaded>> ReadL2(KeyId id,
                                                       std::optional<std::uint64_t>& generation);
  // Runs on a database thread; writes the answer to L2 when `generation` is known.
  Loaded LoadAndFill(KeyId id, std::optional<std::uint64_t> generation);
  // The status of an answer from the caches: HIT, or BYPASS while Redis is bypassed.
  CacheStatus CachedStatus() const {
    return l2_ && !l2_->available() ? CacheStatus::kBypass : CacheStatus::kHit;
  }
  VerifyOutcome Record(VerifyOutcome outcome);

  const VerifierOptions options_;
  const KeyHasher& hasher_;
  L1Cache& l1_;
  KeyStore& store_;
  DbExecutor& db_;
  UsageCounter& usage_;
  ServiceMetrics& metrics_;
  const Clock& clock_;
  L2Cache* const l2_;  // null without the Redis tier
  SingleFlight<KeyId, Loaded> flights_;
};

}  // namespace keycache
