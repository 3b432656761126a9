// FencedLoader<Policy>: the one implementation of the fill-fence protocol (docs/adr/0003) for
// everything the service caches in both tiers — validation entries (the verifier) and owner key
// lists (KeyService). On an L1 miss:
//   1. if the shared tier is usable: take an L1 fill ticket, then read Redis (on the caller's
//      I/O thread, never a database thread). A current entry fills L1 through the ticket (refused
//      if an invalidation arrived meanwhile) and is the answer (HIT).
//   2. otherwise read the store — one read per key at a time (single flight; on the caller's
//      thread where the policy can, else on the database pool, where the reads queued for the
//      pool go together when the store reads several keys in one round trip) — with a fresh
//      ticket, and fill L1 through it. A read that an invalidation (or a clear) overtook fills
//      nothing, and the flight reads again for every waiter, up to kFillAttempts reads; after
//      that an overtaken read answers the waiters who asked before it began, and the flight
//      reads again only for those who joined while it ran. So no waiter gets an answer older
//      than a change that finished before it asked, and no stream of invalidations can starve
//      a request into an error. A read that nothing overtook answers every waiter and is sealed
//      into Redis under the generation seen in step 1, before the store read: a fill that raced
//      a change lands under an old generation and is never served. MISS when Redis was
//      consulted, BYPASS when it was not.
// Policy supplies the types and the cache-specific calls (see FactsPolicy in verifier.cc and
// OwnerListPolicy in key_service.cc). Thread-safe; Load must be awaited on a single-threaded
// executor (see Completion).
#pragma once

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>
#include <concepts>
#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "cache/single_flight.h"
#include "core/cache_type.h"
#include "l2/shared_cache.h"
#include "service/cache_status.h"
#include "service/completion.h"
#include "service/db_executor.h"
#include "service/service_metrics.h"
#include "util/check.h"
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

// A policy that can read several keys in one store call (one answer per key, in order) gets its
// store reads batched when its store says that pays (a network round trip per call: PostgreSQL):
// the reads that queue for the database pool while its threads are busy go out together, in one
// statement instead of one each. A local store (SQLite) keeps one read per job, so that the
// pool's threads read in parallel.
template <class P>
concept BatchedStoreReads = requires(P& p, std::span<const typename P::Key> keys) {
  { p.ReadStoreMany(keys) } -> std::same_as<std::vector<Result<typename P::Value>>>;
  { p.BatchStoreReads() } -> std::same_as<bool>;
};

// A policy that can read the store from the caller's own I/O thread (AsyncKeyReader: PostgreSQL
// in pipeline mode) gets its store reads done there, with no hop to a database thread and back;
// a read it declines (nullopt: no connection on this thread just now) goes to the pool.
template <class P>
concept AsyncStoreReads = requires(P& p, const typename P::Key& key) {
  {
    p.ReadStoreAsync(key)
    } -> std::same_as<boost::asio::awaitable<std::optional<Result<typename P::Value>>>>;
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
  // Reads of a flight that an invalidation may overtake before the flight settles for answering
  // without filling the caches.
  static constexpr int kFillAttempts = 4;

  boost::asio::awaitable<Result<Value>> LoadCoalesced(Key key,
                                                      std::optional<std::uint64_t> generation) {
    auto ex = co_await boost::asio::this_coro::executor;
    auto done = std::make_shared<Completion<Result<Value>>>(ex);
    const bool leader = flights_.Join(key, [done](const Result<Value>& r) { done->Set(r); });
    if (leader) {
      metrics_.StoreRead();
      const auto started = ServiceMetrics::StartTimer();
      bool done_here = false;
      int attempt = 1;
      if constexpr (AsyncStoreReads<P>) {
        done_here = co_await LoadHere(key, generation, attempt, started);
      }
      if (!done_here && !(attempt == 1 && QueueBatched(key, generation))) {
        ReadOnPool(key, generation, attempt, started);
      }
    }
    std::optional<Result<Value>> r = co_await done->Wait(db_.timeout());
    if (!r) co_return make_error_code(Errc::kTimeout);
    co_return std::move(*r);
  }

  // The flight's reads on the caller's thread, through the policy's asynchronous store read, until
  // every waiter has its answer. False when a read was declined; `generation` then says where the
  // pool goes on.
  boost::asio::awaitable<bool> LoadHere(const Key& key, std::optional<std::uint64_t>& generation,
                                        int& attempt,
                                        ServiceMetrics::Timer started) requires AsyncStoreReads<P> {
    for (;; ++attempt) {
      auto ticket = BeginRead(key);
      std::optional<Result<Value>> read = co_await policy_.ReadStoreAsync(key);
      if (!read) co_return false;
      if (Settle(key, generation, std::move(*read), ticket, attempt, started)) co_return true;
    }
  }

  // One read of the flight on a database thread; another job for the waiters it could not answer.
  void ReadOnPool(const Key& key, std::optional<std::uint64_t> generation, int attempt,
                  ServiceMetrics::Timer started) {
    db_.PostRead([this, key, generation, attempt, started]() mutable {
      auto ticket = BeginRead(key);
      if (!Settle(key, generation, policy_.ReadStore(key), ticket, attempt, started)) {
        ReadOnPool(key, std::nullopt, attempt + 1, started);
      }
    });
  }

  // Queues the read for the next batch when the policy batches; false when it does not.
  bool QueueBatched(const Key& key, std::optional<std::uint64_t> generation) {
    if constexpr (BatchedStoreReads<P>) {
      if (!policy_.BatchStoreReads()) return false;
      {
        std::lock_guard lock(pending_mu_);
        pending_.push_back({key, generation});
      }
      // One job per read, so the pool's threads all take part; a job finds either a batch or
      // nothing (an earlier one took its read along).
      db_.PostRead([this] { LoadPending(); });
      return true;
    } else {
      return false;
    }
  }

  // Just before a store read of `key` begins: the fill ticket, then the flight's seal (its waiters
  // so far are the ones this read answers even if overtaken).
  typename P::Ticket BeginRead(const Key& key) {
    auto ticket = policy_.BeginFill(key);
    flights_.Seal(key);
    return ticket;
  }

  // A store read begun with BeginRead, the flight's `attempt`-th. True when the flight is over:
  // - an error, or a read that nothing overtook, answers every waiter (a read that fills L1 is
  //   also sealed into Redis);
  // - an overtaken read may predate the change that overtook it, which a waiter who joined while
  //   it ran may have seen finish, and it fills nothing. Up to kFillAttempts the flight reads
  //   again for every waiter (false), so that the next read can fill the caches; after that, it
  //   answers the waiters who asked before it began (it is at least as new as their requests),
  //   and false means others are left who need another read. `generation` is dropped either way:
  //   it is already old.
  bool Settle(const Key& key, std::optional<std::uint64_t>& generation, Result<Value> read,
              const typename P::Ticket& ticket, int attempt, ServiceMetrics::Timer started) {
    if (!read || Fill(key, generation, *read, ticket)) {
      Finish(key, read, started);
      return true;
    }
    metrics_.FillOvertaken(P::kType);
    generation.reset();
    if (attempt < kFillAttempts) return false;
    return !flights_.ServeSealed(key, read);
  }

  // False when the read was overtaken (found by the model-based test under a write-locked
  // database, where reads are slow).
  bool Fill(const Key& key, std::optional<std::uint64_t> generation, const Value& read,
            const typename P::Ticket& ticket) {
    if (!policy_.CompleteFill(key, read, ticket)) return false;
    // Sealed under the generation read before the store: stale if anything changed since.
    if (generation && shared_) policy_.WriteShared(*shared_, key, *generation, read);
    return true;
  }

  void Finish(const Key& key, const Result<Value>& loaded, ServiceMetrics::Timer started) {
    metrics_.ObserveOperation(CacheOp::kLoad, P::kType, started);
    if (!loaded) metrics_.CacheError(P::kType, CacheOp::kLoad);
    flights_.Complete(key, loaded);
  }

  // On a database thread: the reads queued so far (up to kMaxBatch) in one store call, each begun
  // (BeginRead) before it; an overtaken one goes on as the flight's second read, on the pool.
  static constexpr std::size_t kMaxBatch = 64;
  struct PendingRead {
    Key key;
    std::optional<std::uint64_t> generation;
  };

  void LoadPending() requires BatchedStoreReads<P> {
    std::vector<PendingRead> batch;
    {
      std::lock_guard lock(pending_mu_);
      const std::size_t n = std::min(pending_.size(), kMaxBatch);
      batch.assign(std::make_move_iterator(pending_.begin()),
                   std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(n)));
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    if (batch.empty()) return;
    const auto started = ServiceMetrics::StartTimer();
    std::vector<Key> keys;
    std::vector<typename P::Ticket> tickets;
    keys.reserve(batch.size());
    tickets.reserve(batch.size());
    for (const PendingRead& r : batch) {
      tickets.push_back(BeginRead(r.key));
      keys.push_back(r.key);
    }
    std::vector<Result<Value>> reads = policy_.ReadStoreMany(keys);
    KC_CHECK(reads.size() == batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      PendingRead& r = batch[i];
      if (!Settle(r.key, r.generation, std::move(reads[i]), tickets[i], 1, started)) {
        ReadOnPool(r.key, std::nullopt, 2, started);
      }
    }
  }

  P policy_;
  SharedCache* const shared_;
  DbExecutor& db_;
  ServiceMetrics& metrics_;
  SingleFlight<Key, Result<Value>> flights_;
  std::mutex pending_mu_;
  std::vector<PendingRead> pending_;  // batched reads not yet taken by a database thread
};

}  // namespace keycache
