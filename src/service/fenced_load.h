// FencedLoader<Policy>: the one implementation of the fill-fence protocol (docs/adr/0003) for
// everything the service caches in both tiers — validation entries (the verifier) and owner key
// lists (KeyService). On an L1 miss:
//   1. if the shared tier is usable: take an L1 fill ticket, then read Redis (on the caller's
//      I/O thread, never a database thread). A current entry fills L1 through the ticket (refused
//      if an invalidation arrived meanwhile) and is the answer (HIT).
//   2. otherwise read the store on the database pool — one read per key at a time (single flight)
//      — with a fresh ticket, fill L1 through it (retrying a bounded number of times when an
//      invalidation overtook the read, so no waiter gets an answer older than a change that
//      finished before it asked; if every attempt is overtaken, the waiters get Errc::kUnavailable
//      rather than a read that may predate a change they must see), and seal the answer into
//      Redis under the generation seen in
//      step 1, before the store read: a fill that raced a change lands under an old generation
//      and is never served. MISS when Redis was consulted, BYPASS when it was not.
// Policy supplies the types and the cache-specific calls (see FactsPolicy in verifier.cc and
// OwnerListPolicy in key_service.cc). Thread-safe; Load must be awaited on a single-threaded
// executor (see Completion).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "cache/single_flight.h"
#include "core/cache_type.h"
#include "l2/shared_cache.h"
#include "service/cache_status.h"
#include "service/completion.h"
#include "service/db_executor.h"
#include "service/service_metrics.h"
#include "util/error.h"

namespace keycache {

template <class P>
concept FencedLoadPolicy = requires(P& p, const typename P::Key& key,
                                    const typename P::Value& value,
                                    const typename P::Ticket& ticket, SharedCache& shared,
                                    std::uint64_t generation) {
  { P::kType } -> std::convertible_to<CacheType>;
  { p.BeginFill(key) } -> std::same_as<typename P::Ticket>;
  // False when an invalidation overtook the read (nothing is stored then).
  { p.CompleteFill(key, value, ticket) } -> std::same_as<bool>;
  {
    p.ReadShared(shared, key)
    } -> std::same_as<boost::asio::awaitable<SharedRead<typename P::Value>>>;
  // Blocking; runs on a database thread.
  { p.ReadStore(key) } -> std::same_as<Result<typename P::Value>>;
  {p.WriteShared(shared, key, generation, value)};
};

template <FencedLoadPolicy P>
class FencedLoader {
 public:
  using Key = typename P::Key;
  using Value = typename P::Value;

  struct Loaded {
    Value value;
    CacheStatus status;
    AnsweredBy answered_by;  // kRedis or kDatabase
  };

  // `shared` is null without the Redis tier. References must outlive the loader.
  FencedLoader(P policy, SharedCache* shared, DbExecutor& db, ServiceMetrics& metrics)
      : policy_(std::move(policy)), shared_(shared), db_(db), metrics_(metrics) {}

  // Timed as a lookup (cache_operation_duration_seconds{operation="lookup"}) by the tier that
  // answered.
  boost::asio::awaitable<Result<Loaded>> Load(Key key) {
    const auto started = ServiceMetrics::StartTimer();
    std::optional<std::uint64_t> generation;
    if (shared_ && shared_->Usable()) {
      // The ticket is taken before the read: an invalidation that overtakes the reply refuses it.
      auto ticket = policy_.BeginFill(key);
      SharedRead<Value> read = co_await policy_.ReadShared(*shared_, key);
      if (read.hit()) {
        if (policy_.CompleteFill(key, read.value(), ticket)) {
          metrics_.ObserveLookup(P::kType, AnsweredBy::kRedis, started);
          co_return Loaded{read.take_value(), CacheStatus::kHit, AnsweredBy::kRedis};
        }
        // Refused: the entry changed while we read it, and its generation moved too.
      } else {
        generation = read.fill_generation();
      }
    }
    // Without the tier the caches consulted were L1 only: a store answer is a MISS. With it, a
    // MISS says Redis was consulted too; BYPASS that it could not be.
    const CacheStatus status = shared_ && !generation ? CacheStatus::kBypass : CacheStatus::kMiss;
    Result<Value> loaded = co_await LoadCoalesced(key, generation);
    if (!loaded) co_return loaded.error();
    metrics_.ObserveLookup(P::kType, AnsweredBy::kDatabase, started);
    co_return Loaded{std::move(*loaded), status, AnsweredBy::kDatabase};
  }

 private:
  // A fill rejected by the fence means the entry changed while we read it (or a change to another
  // entry of the same generation stripe, or a clear, happened): read again so that every waiter
  // of this flight gets an answer at least as new as that change.
  static constexpr int kMaxFillAttempts = 4;

  boost::asio::awaitable<Result<Value>> LoadCoalesced(Key key,
                                                      std::optional<std::uint64_t> generation) {
    auto ex = co_await boost::asio::this_coro::executor;
    auto done = std::make_shared<Completion<Result<Value>>>(ex);
    const bool leader = flights_.Join(key, [done](const Result<Value>& r) { done->Set(r); });
    if (leader) {
      metrics_.StoreRead();
      db_.PostRead([this, key, generation] {
        auto started = ServiceMetrics::StartTimer();
        Result<Value> loaded = LoadAndFill(key, generation);
        metrics_.ObserveOperation(CacheOp::kLoad, P::kType, started);
        if (!loaded) metrics_.CacheError(P::kType, CacheOp::kLoad);
        flights_.Complete(key, loaded);
      });
    }
    std::optional<Result<Value>> r = co_await done->Wait(db_.timeout());
    if (!r) co_return make_error_code(Errc::kTimeout);
    co_return std::move(*r);
  }

  // On a database thread.
  Result<Value> LoadAndFill(const Key& key, std::optional<std::uint64_t> generation) {
    for (int attempt = 1;; ++attempt) {
      auto ticket = policy_.BeginFill(key);
      Result<Value> read = policy_.ReadStore(key);
      if (!read) return read.error();
      if (policy_.CompleteFill(key, *read, ticket)) {
        // Sealed under the generation read before the store: stale if anything changed since.
        if (generation && shared_) policy_.WriteShared(*shared_, key, *generation, *read);
        return read;
      }
      // Overtaken: this read may predate a change that a waiter who joined meanwhile must see
      // (found by the model-based test under a write-locked database, where reads are slow).
      if (attempt == kMaxFillAttempts) return make_error_code(Errc::kUnavailable);
      generation.reset();  // that generation is already old
    }
  }

  P policy_;
  SharedCache* const shared_;
  DbExecutor& db_;
  ServiceMetrics& metrics_;
  SingleFlight<Key, Result<Value>> flights_;
};

}  // namespace keycache
