// L2Cache: keycache's caches in a shared Redis (docs/adr/0003-redis-tier.md). Every call goes
// through the circuit breaker: while it is open nothing is sent and the call fails at once with
// Errc::kUnavailable, so no request waits for a Redis that is away; failures and timeouts feed
// the breaker.
//
// Fills are fenced by generations: each key (and each owner) has a counter in Redis that every
// change INCRs before it is announced. A reader fetches the counter with the entry (one MGET);
// an entry counts only if it was sealed under the current counter; a filler seals its database
// read with the counter it saw BEFORE that read. So a fill whose database read raced a change
// lands with an old generation and is never served (no WATCH/EVAL needed).
//
// Thread-safe. Async members resume on the caller's executor; *Sync members block and are for
// database worker threads only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/key_facts.h"
#include "l2/circuit_breaker.h"
#include "l2/invalidation_message.h"
#include "l2/l2_keys.h"
#include "l2/l2_metrics.h"
#include "l2/sealed_entry.h"
#include "redis/redis_client.h"
#include "store/key_store.h"

namespace keycache {

struct L2Options {
  TimeMs validation_ttl_ms = 300'000;
  TimeMs negative_ttl_ms = 30'000;
  TimeMs user_list_ttl_ms = 1'800'000;
  TimeMs usage_ttl_ms = 60'000;
};

struct L2FactsRead {
  bool hit = false;                       // a current entry was found
  std::uint64_t generation = 0;           // the key's generation at the read (seal fills with it)
  std::shared_ptr<const KeyFacts> facts;  // hit && !facts: the key does not exist
};

struct L2BlobRead {
  bool hit = false;
  std::uint64_t generation = 0;
  std::string body;
};

struct L2Counts {
  std::uint64_t validation = 0, user_list = 0, usage = 0;
};

class L2Cache {
 public:
  // `background` runs fire-and-forget writes issued from non-I/O threads. All references must
  // outlive the cache.
  L2Cache(RedisClient& client, CircuitBreaker& breaker, L2Keys keys, const EntrySealer& sealer,
          L2Options options, L2Metrics& metrics, boost::asio::any_io_executor background);

  bool available() const { return breaker_.allows(); }
  const L2Keys& keys() const { return keys_; }

  boost::asio::awaitable<Result<L2FactsRead>> ReadFacts(KeyId id);
  // Seals `facts` (null: no such key) under `generation` and stores it; fire-and-forget, from
  // any thread.
  void WriteFacts(KeyId id, std::uint64_t generation, std::shared_ptr<const KeyFacts> facts);

  // Owner key lists (rendered JSON bodies). Blocking: the list route reads on a database thread.
  Result<L2BlobRead> ReadUserListSync(const std::string& owner);
  void WriteUserList(const std::string& owner, std::uint64_t generation, std::string body);

  // Drops the entries `m` names (bumping generations first) and publishes `m` to the other
  // instances, in one pipeline. Type-wide and full clears walk the keyspace with SCAN.
  // `even_if_open`: the prober replays deferred invalidations before it closes the breaker.
  Result<void> InvalidateSync(const InvalidationMessage& m, bool even_if_open = false);

  // Adds verification counts to the shared per-minute counters (INCRBY, pipelined).
  void AddUsage(std::span<const UsageDelta> deltas, TimeMs now);
  // Verifications of `id` counted by every instance in the current and the previous minute.
  Result<std::pair<std::uint64_t, std::uint64_t>> RecentUsageSync(KeyId id, TimeMs now);

  // Entry counts by type (SCAN; O(keyspace), for health checks at a low rate).
  Result<L2Counts> CountSync();

  // A PING that bypasses the breaker: the prober's way back. Blocking.
  Result<void> ProbeSync();

  // MEMORY USAGE of one stored entry, for capacity planning and the benchmark report.
  Result<std::int64_t> MemoryUsageSync(const std::string& name);

 private:
  using Replies = Result<std::vector<RedisReply>>;
  // The reply to MGET <generation counter> <entry>: the generation, and the entry's reply
  // (null when absent, counted as a miss). Unusable replies are counted and are errors.
  struct Versioned {
    std::uint64_t generation = 0;
    const RedisReply* entry = nullptr;  // points into the replies passed in
  };
  Result<Versioned> SplitVersioned(const Replies& replies, L2Op op);
  boost::asio::awaitable<Replies> Run(RedisRequest request);
  Replies RunSync(RedisRequest request, bool even_if_open = false);
  Replies Account(Replies r);
  void RunDetached(RedisRequest request, L2Op op);
  boost::asio::awaitable<void> WriteAsync(RedisRequest request, L2Op op);
  // Walks SCAN MATCH `pattern` to the end, handing each page of key names to `page`.
  Result<void> ScanEach(const std::string& pattern, bool even_if_open,
                        const std::function<Result<void>(std::vector<RedisReply>&)>& page);
  Result<void> ScanAndUnlink(const std::string& pattern, bool even_if_open);
  Result<std::uint64_t> ScanCount(const std::string& pattern);

  RedisClient& client_;
  CircuitBreaker& breaker_;
  const L2Keys keys_;
  const EntrySealer& sealer_;
  const L2Options options_;
  L2Metrics& metrics_;
  boost::asio::any_io_executor background_;
};

}  // namespace keycache
