// L2Cache: keycache's caches in a shared Redis (docs/adr/0003-redis-tier.md), the SharedCache the
// service layer reads and fills, plus the fence that the invalidator and the heartbeat send.
//
// Every call goes through the circuit breaker: while it is open nothing is sent (reads answer
// NoAnswer at once), so no request waits for a Redis that is away. A transport failure counts
// towards opening it; an error *reply* (READONLY, OOM, NOPERM, MASTERDOWN, LOADING, ...) opens it
// at once with the reply as the reason, because it is a state of the server, not a blip — and a
// fence that Redis refused is a change the other instances may not have seen. Reads are also
// refused while the coherence lease has lapsed (SharedCache::Usable).
//
// Fills are fenced by generations: each key (and each owner) has a counter in Redis that every
// change INCRs before it is announced. A reader fetches the counter with the entry (one MGET);
// an entry counts only if it was sealed under the current counter; a filler seals its database
// read with the counter it saw BEFORE that read. So a fill whose database read raced a change
// lands with an old generation and is never served (no WATCH/EVAL needed). In Sentinel mode the
// fill generation handed out also carries the primary epoch it was read under (its top 16 bits),
// and a fill is dropped once the primary has changed since (docs/adr/0003, "Sentinel").
//
// Thread-safe. Async members resume on the caller's executor; writes are fire-and-forget from any
// thread (they run on `background`).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/usage_delta.h"
#include "l2/circuit_breaker.h"
#include "l2/coherence_lease.h"
#include "l2/invalidation_message.h"
#include "l2/l2_keys.h"
#include "l2/l2_metrics.h"
#include "l2/sealed_entry.h"
#include "l2/shared_cache.h"
#include "redis/redis_commands.h"

namespace keycache {

struct L2Options {
  TimeMs validation_ttl_ms = 300'000;
  TimeMs negative_ttl_ms = 30'000;
  TimeMs user_list_ttl_ms = 1'800'000;
  TimeMs usage_ttl_ms = 60'000;
  // A change's fence waits (WAIT) until this many replicas of each primary it wrote to have
  // its generation bump, and fails otherwise: an acknowledged change then survives a failover
  // (Redis replicates asynchronously). 0: no wait (a single server, or a cluster without
  // replicas). Heartbeats never wait.
  int fence_replicas = 0;
  TimeMs fence_replica_timeout_ms = 1'000;
};

struct L2Counts {
  std::uint64_t validation = 0, user_list = 0, usage = 0;
};

class L2Cache final : public SharedCache {
 public:
  // All references must outlive the cache.
  L2Cache(RedisCommands& client, CircuitBreaker& breaker, const CoherenceLease& lease, L2Keys keys,
          const EntrySealer& sealer, L2Options options, L2Metrics& metrics,
          boost::asio::any_io_executor background);

  // SharedCache.
  bool Coherent() const override { return lease_.Held(); }
  bool Usable() const override { return breaker_.allows() && lease_.Held(); }
  boost::asio::awaitable<SharedRead<FactsAnswer>> ReadFacts(KeyId id) override;
  void WriteFacts(KeyId id, std::uint64_t generation, FactsAnswer answer) override;
  boost::asio::awaitable<SharedRead<std::string>> ReadUserList(std::string owner) override;
  void WriteUserList(std::string owner, std::uint64_t generation, std::string body) override;
  boost::asio::awaitable<Result<RecentUsage>> ReadRecentUsage(KeyId id, TimeMs now) override;

  const L2Keys& keys() const { return keys_; }

  // The fence of `m`, in one pipeline: for a change, INCR (and PEXPIRE) the generations it
  // touches, WAIT for fence_replicas replicas when set, and UNLINK their entries (type-wide and
  // full clears first walk the keyspace of every primary with SCAN), then PUBLISH `m` (sent once
  // all of that has replied, on a Cluster too); for a heartbeat, the same commands on the
  // instance's heartbeat counter; for a warm-up request, only the PUBLISH. Succeeds only if every
  // reply is a success. `even_if_open`: the heartbeat and the replay of deferred changes go through
  // an open breaker (they are how it closes).
  boost::asio::awaitable<Result<void>> Fence(InvalidationMessage m, bool even_if_open);

  // Adds verification counts to the shared per-minute counters (INCRBY, pipelined).
  void AddUsage(std::span<const UsageDelta> deltas, TimeMs now) override;

  // Entry counts by type (SCAN; O(keyspace), for health checks at a low rate).
  boost::asio::awaitable<Result<L2Counts>> Count();
  // MEMORY USAGE of one stored entry, for capacity planning and the benchmark report.
  boost::asio::awaitable<Result<std::int64_t>> MemoryUsage(std::string name);

 private:
  struct Pipeline;
  using Replies = Result<std::vector<RedisReply>>;
  // The current primary epoch (the endpoint source's generation, 16 bits; 0 without one).
  std::uint64_t Epoch() const;
  // `generation` read under `epoch`, as handed to the service; nullopt if it does not fit.
  static std::optional<std::uint64_t> Stamp(std::uint64_t epoch, std::uint64_t generation);
  // The reply to MGET <generation counter> <entry>: the generation, and the entry's reply (null
  // when absent). Unusable replies are counted and are errors.
  struct Versioned {
    std::uint64_t generation = 0;
    const RedisReply* entry = nullptr;  // points into the replies passed in
  };
  Result<Versioned> SplitVersioned(const Replies& replies, L2Op op);
  // Sends `p` (unless the breaker is open and !even_if_open) and feeds the breaker: success,
  // a transport failure, or an error reply (which fails the whole call).
  // `shard`: send the whole pipeline to that primary of a cluster (SCAN), unsplit.
  boost::asio::awaitable<Replies> Run(Pipeline p, L2Op op, bool even_if_open = false,
                                      const std::string* shard = nullptr);
  void RunDetached(Pipeline p, L2Op op);
  boost::asio::awaitable<void> WriteAsync(Pipeline p, L2Op op);
  // Walks SCAN MATCH `pattern` to the end on every primary, handing each page of key names to
  // `page`.
  boost::asio::awaitable<Result<void>> ScanEach(
      std::string pattern, bool even_if_open,
      std::function<boost::asio::awaitable<Result<void>>(std::vector<RedisReply>&)> page);
  boost::asio::awaitable<Result<void>> ScanShard(
      const std::string& pattern, bool even_if_open, const std::string& shard,
      const std::function<boost::asio::awaitable<Result<void>>(std::vector<RedisReply>&)>& page);
  boost::asio::awaitable<Result<void>> ScanAndUnlink(std::string pattern, bool even_if_open);
  boost::asio::awaitable<Result<std::uint64_t>> ScanCount(std::string pattern);

  RedisCommands& client_;
  CircuitBreaker& breaker_;
  const CoherenceLease& lease_;
  const L2Keys keys_;
  const EntrySealer& sealer_;
  const L2Options options_;
  L2Metrics& metrics_;
  boost::asio::any_io_executor background_;
};

}  // namespace keycache
