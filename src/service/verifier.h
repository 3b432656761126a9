// Verifier: the life of a verification. Parse and checksum (no lookup for garbage), HMAC of the
// presented key and its tag checked (no lookup for a key keycache never issued: tagged keys carry
// 47 bits of their HMAC, legacy keys must have an id in LegacyKeyIds), L1 lookup by key id, the
// HMAC compared with the stored one in constant time, state and scope decision, usage counted in
// memory. The bytes of a presentation that passed every check on this thread's hot copy of a
// key (HotFacts) are recognised next time by a SipHash tag under a per-process random key, with no
// check repeated: neither checksum nor HMAC (core/proof_tag.h, docs/adr/0007). On an L1 miss it
// loads the key's facts through the fill-fence protocol (FencedLoader: the shared L2, then one
// coalesced store read per key id), so a read that began before a revocation never lands after it.
// With the Redis tier, cached answers are trusted only while this instance holds its coherence
// lease (SharedCache::Coherent): past it, L1 and Redis are skipped and the store answers, which
// bounds staleness by construction even on a silently cut link. Answers say BYPASS whenever Redis
// could not be used. Without Redis, `lease` (the PostgreSQL channel's, l2/notify_coherence.h) gates
// L1 the same way. Thread-safe; one instance serves every I/O thread. Async calls must be awaited
// on a single-threaded executor (see Completion).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cache/hot_facts.h"
#include "cache/l1_cache.h"
#include "cache/usage_counter.h"
#include "core/facts_answer.h"
#include "core/key_facts.h"
#include "core/key_hasher.h"
#include "core/proof_tag.h"
#include "l2/coherence_lease.h"
#include "l2/shared_cache.h"
#include "service/cache_status.h"
#include "service/db_executor.h"
#include "service/fenced_load.h"
#include "service/legacy_key_ids.h"
#include "service/service_metrics.h"
#include "store/async_key_reader.h"
#include "store/key_store.h"
#include "util/clock.h"

namespace keycache {

struct VerifierOptions {
  std::string key_prefix = "ak";
  bool cache_enabled = true;  // false under API_KEY_CACHE_ENABLED=false or EMERGENCY_MODE=true
  // false under KEYCACHE_L1_ENABLED=false with the Redis tier: every lookup goes to L2 (for
  // measuring the L2 path, or for deployments that accept no L1 staleness at all).
  bool l1_enabled = true;
  // Entries of each I/O thread's front of L1 (cache/hot_facts.h); 0 turns it off (benchmarks
  // compare both).
  std::size_t hot_entries_per_thread = HotFacts::kDefaultEntries;
};

struct VerifyOutcome {
  VerifyCode code = VerifyCode::kMalformed;
  CacheStatus cache = CacheStatus::kBypass;
  // Set whenever the presented key matched a stored key (any code but MALFORMED / NOT_FOUND);
  // always set for VALID.
  std::shared_ptr<const KeyFacts> facts;
};

// A well-formed verification request that memory alone could not answer, as the fast path parsed
// it; the slow path (Verifier::Complete) takes it over, so nothing is parsed twice.
struct PendingVerify {
  KeyId id = 0;
  KeyFormat format = KeyFormat::kTagged;
  KeyHash hash{};              // of the presented key (its hashed part); the plaintext is not kept
  bool reload_legacy = false;  // reload LegacyKeyIds first (a legacy id the set lacks)
  std::vector<std::string> scopes;
  std::string client_ip;
};

class Verifier {
 public:
  // `shared` is null without the Redis tier; `lease`, when set, is the coherence lease of another
  // invalidation channel: L1 answers only while it is held. References must outlive the verifier.
  Verifier(VerifierOptions options, const KeyHasher& hasher, L1Cache& l1, KeyStore& store,
           DbExecutor& db, UsageCounter& usage, ServiceMetrics& metrics, const Clock& clock,
           SharedCache* shared = nullptr, const CoherenceLease* lease = nullptr,
           AsyncKeyReader* async = nullptr);

  // The fast path: answers from memory alone (malformed keys and trusted L1 hits), or hands back
  // the parsed request for Complete(). Never blocks; the HTTP layer calls it without a coroutine.
  std::variant<VerifyOutcome, PendingVerify> VerifyCached(std::string_view key,
                                                          std::span<const std::string> scopes,
                                                          std::string_view client_ip);

  // The slow path of a request the fast path could not answer. Errors are backend failures
  // (store down, timeout), never verdicts.
  boost::asio::awaitable<Result<VerifyOutcome>> Complete(PendingVerify request);

  // Both paths, for callers without a fast path.
  boost::asio::awaitable<Result<VerifyOutcome>> Verify(std::string key,
                                                       std::vector<std::string> scopes,
                                                       std::string client_ip);

  // Warm-up (CacheWarmer): loads `id`'s validation entry as a verification that missed L1 would
  // — from Redis when it holds it, else from the store, sealed into Redis too — so both tiers
  // hold it, and caches the scope decisions the key's own scopes allow. The answer (absent for
  // an unknown id) and where it came from (HIT: Redis; MISS/BYPASS: the store).
  struct Warmed {
    FactsAnswer answer;
    CacheStatus status;
    std::size_t scope_decisions = 0;  // cached in L1
  };
  boost::asio::awaitable<Result<Warmed>> Warm(KeyId id);

  bool cache_enabled() const { return options_.cache_enabled; }
  const LegacyKeyIds& legacy_ids() const { return legacy_; }

 private:
  // The validation entry's side of the fill-fence protocol.
  struct FactsPolicy {
    static constexpr CacheType kType = CacheType::kValidation;
    using Key = KeyId;
    using Value = FactsAnswer;
    using Ticket = FactsFillTicket;

    L1Cache& l1;
    KeyStore& store;
    bool l1_enabled;
    AsyncKeyReader* async;  // null: every store read goes to the pool

    Ticket BeginFill(KeyId id) { return l1.BeginFactsFill(id); }
    bool CompleteFill(KeyId id, const FactsAnswer& answer, const Ticket& ticket);
    boost::asio::awaitable<SharedRead<FactsAnswer>> ReadShared(SharedCache& shared, KeyId id) {
      return shared.ReadFacts(id);
    }
    Result<FactsAnswer> ReadStore(KeyId id);
    std::vector<Result<FactsAnswer>> ReadStoreMany(std::span<const KeyId> ids);
    bool BatchStoreReads() const { return store.ReadsManyAtOnce(); }
    boost::asio::awaitable<std::optional<Result<FactsAnswer>>> ReadStoreAsync(KeyId id);
    void WriteShared(SharedCache& shared, KeyId id, std::uint64_t generation,
                     const FactsAnswer& answer) {
      shared.WriteFacts(id, generation, answer);
    }
  };

  // Precondition: `facts` is non-null (a found key).
  // `hot`: the calling thread's HotFacts entry the facts came from, if any (its scope decisions
  // are used and kept); `presented`: the whole presented key (every check passed on it, `hash`
  // computed from its hashed part), which the entry then remembers as proven when the hash
  // matches (empty: nothing to remember).
  VerifyOutcome Finish(std::shared_ptr<const KeyFacts> facts, CacheStatus status,
                       const KeyHash& hash, std::span<const std::string> scopes,
                       std::string_view client_ip, TimeMs now, HotFacts::Entry* hot = nullptr,
                       std::string_view presented = {});
  VerifyOutcome Answer(const FactsAnswer& answer, CacheStatus status, const KeyHash& hash,
                       std::span<const std::string> scopes, std::string_view client_ip);
  // A well-formed key keycache never issued: NOT_FOUND, no lookup made.
  VerifyOutcome Forged(KeyFormat format);
  bool ScopesAllowed(const KeyFacts& facts, std::span<const std::string> scopes,
                     HotFacts::Entry* hot);
  // May cached answers be used right now? Without a channel always; with one, only under its
  // lease.
  bool Trusted() const { return (!shared_ || shared_->Coherent()) && (!lease_ || lease_->Held()); }
  // The status of an answer from L1: HIT, or BYPASS while Redis cannot be used.
  CacheStatus CachedStatus() const {
    return shared_ && !shared_->Usable() ? CacheStatus::kBypass : CacheStatus::kHit;
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
  SharedCache* const shared_;
  const CoherenceLease* const lease_;
  AsyncKeyReader* const async_;  // null: store reads go to the pool
  FencedLoader<FactsPolicy> loader_;
  LegacyKeyIds legacy_;
  HotFacts hot_;
  const ProofTags proof_tags_;  // a fresh random key per process
};

}  // namespace keycache
