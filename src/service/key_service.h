// KeyService: the key lifecycle (create, read, list, update, revoke, rotate, delete, usage) and
// operator invalidations. Each change runs on the database pool as one job that commits to the
// store and then, on the same thread, announces the change to the InvalidationSink (this
// instance's L1 drops it at once, so even a caller that timed out cannot leave a stale entry
// behind). The operation then waits, bounded, for the announcement to be in force on every
// instance (with the Redis tier: the fence was written) and returns that Propagation beside its
// result; the API answers 503 for a change that is committed but not in force (docs/adr/0003).
// Owner key lists are cached in both tiers through the fill-fence protocol (FencedLoader).
// Inputs are assumed validated by the API layer; this layer enforces what needs the store
// (limits, existence). Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cache/l1_cache.h"
#include "cache/usage_counter.h"
#include "core/cache_change.h"
#include "core/invalidation_sink.h"
#include "core/key_hasher.h"
#include "core/key_record.h"
#include "l2/coherence_lease.h"
#include "l2/shared_cache.h"
#include "service/cache_status.h"
#include "service/completion.h"
#include "service/db_executor.h"
#include "service/fenced_load.h"
#include "service/service_metrics.h"
#include "store/key_store.h"
#include "util/clock.h"

namespace keycache {

struct KeyServiceOptions {
  std::string key_prefix = "ak";
  std::size_t max_keys_per_owner = 50;
  bool cache_enabled = true;
  // How long a change waits for its announcement to be in force everywhere before it reports
  // Propagation::Pending (the shared tier's command timeout plus a margin).
  std::chrono::milliseconds propagation_timeout{6'000};
};

struct NewKey {
  std::string owner_id;
  std::string name;
  std::vector<std::string> scopes;
  TimeMs expires_at = kNever;
  std::string metadata_json;
};

struct CreatedKey {
  std::string key;  // plaintext, returned to the caller once
  KeyRecord record;
  TimeMs replaced_revoked_at = kNever;  // Rotate: when the key it replaces stops working (stored)
};

// A committed change and whether it is in force on every instance.
template <class T>
struct Committed {
  T value;
  Propagation propagation;
};

struct KeyUsage {
  std::uint64_t count = 0;
  TimeMs last_used_at = 0;
  std::string last_used_ip;
  // With the Redis tier: verifications counted by every instance in the current and the
  // previous minute (flushed counts only; Redis may have evicted them, so they are a view).
  std::optional<RecentUsage> recent;
};

// An owner's rendered key list, and until when it may be cached: it shows each key's state, which
// changes by itself when a key expires or a rotation's grace ends.
struct RenderedList {
  std::shared_ptr<const std::string> json;  // {"owner_id":..,"count":..,"keys":[..]}
  TimeMs not_after = kNever;
};

struct OwnerKeys {
  std::shared_ptr<const std::string> json;
  CacheStatus cache = CacheStatus::kBypass;
};

class KeyService {
 public:
  // `shared` is null without the Redis tier; `lease`, when set, is the coherence lease of another
  // invalidation channel: owner lists come from L1 only while it is held. References must
  // outlive the service.
  KeyService(KeyServiceOptions options, const KeyHasher& hasher, KeyStore& store, DbExecutor& db,
             L1Cache& l1, UsageCounter& usage, InvalidationSink& invalidation,
             ServiceMetrics& metrics, const Clock& clock, SharedCache* shared = nullptr,
             const CoherenceLease* lease = nullptr);

  // A new key works at once on this instance and, within the propagation bound, everywhere
  // (only an id someone probed before it existed could be cached as missing): Create does not
  // wait for the announcement.
  boost::asio::awaitable<Result<CreatedKey>> Create(NewKey request);
  boost::asio::awaitable<Result<KeyRecord>> Get(KeyId id);
  boost::asio::awaitable<Result<OwnerKeys>> ListByOwner(std::string owner_id);
  // Warm-up (CacheWarmer): loads the owner's key list into both tiers as a list request that
  // missed L1 would (from Redis, else rendered from the store and shared). Its cache status.
  boost::asio::awaitable<Result<CacheStatus>> WarmOwnerList(std::string owner_id);
  boost::asio::awaitable<Result<Committed<KeyRecord>>> Update(KeyId id, KeyPatch patch);
  // Revoking a revoked key commits nothing new but announces again: a retry after a Pending
  // propagation confirms it.
  boost::asio::awaitable<Result<Committed<KeyRecord>>> Revoke(KeyId id, std::string reason);
  // The old key keeps working for grace_ms, then never again.
  boost::asio::awaitable<Result<Committed<CreatedKey>>> Rotate(KeyId id, TimeMs grace_ms);
  boost::asio::awaitable<Result<Committed<KeyRecord>>> Delete(KeyId id);
  // Stored usage plus what is counted in memory and not yet flushed.
  boost::asio::awaitable<Result<KeyUsage>> Usage(KeyId id);

  // Operator invalidations (/admin/cache/invalidate). A key's owner list goes with it when the
  // key still exists.
  boost::asio::awaitable<Result<Propagation>> InvalidateKey(KeyId id);
  boost::asio::awaitable<Propagation> Invalidate(CacheChange change);

 private:
  struct OwnerListPolicy {
    static constexpr CacheType kType = CacheType::kUserList;
    using Key = std::string;
    using Value = RenderedList;
    using Ticket = FillTicket;

    L1Cache& l1;
    KeyStore& store;
    const Clock& clock;

    Ticket BeginFill(const std::string& owner) { return l1.BeginUserListFill(owner); }
    bool CompleteFill(const std::string& owner, const RenderedList& list, const Ticket& ticket) {
      return l1.CompleteUserListFill(owner, list.json, ticket, list.not_after);
    }
    boost::asio::awaitable<SharedRead<RenderedList>> ReadShared(SharedCache& shared,
                                                                const std::string& owner);
    Result<RenderedList> ReadStore(const std::string& owner);
    void WriteShared(SharedCache& shared, const std::string& owner, std::uint64_t generation,
                     const RenderedList& list);
  };

  // A completion for the announcement of a change, created on the awaiting coroutine's executor.
  using PropagationWait = std::shared_ptr<Completion<Propagation>>;
  boost::asio::awaitable<PropagationWait> NewPropagationWait();
  static PropagationDone Notify(PropagationWait wait);
  boost::asio::awaitable<Propagation> Await(PropagationWait wait);

  const KeyServiceOptions options_;
  const KeyHasher& hasher_;
  KeyStore& store_;
  DbExecutor& db_;
  L1Cache& l1_;
  UsageCounter& usage_;
  InvalidationSink& invalidation_;
  ServiceMetrics& metrics_;
  const Clock& clock_;
  SharedCache* const shared_;
  const CoherenceLease* const lease_;
  FencedLoader<OwnerListPolicy> lists_;
};

}  // namespace keycache
