// SharedCache: what the service layer asks of the shared tier (Redis): whether cached answers
// may be trusted right now, and generation-fenced reads and fills of validation entries and owner
// key lists (docs/adr/0003). L2Cache is the implementation; tests substitute fakes at this seam.
// Thread-safe. Reads resume on the caller's executor; writes are fire-and-forget from any thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "core/facts_answer.h"
#include "core/key_id.h"
#include "core/usage_delta.h"
#include "l2/shared_read.h"
#include "util/clock.h"
#include "util/error.h"

namespace keycache {

struct RecentUsage {
  std::uint64_t current_minute = 0;
  std::uint64_t previous_minute = 0;
};

class SharedCache {
 public:
  virtual ~SharedCache() = default;

  // True while this instance holds a fresh coherence lease: every change acknowledged by any
  // instance more than one lease ago has reached this instance's L1. When false, neither L1 nor
  // Redis may answer a verification (the store does).
  virtual bool Coherent() const = 0;
  // True while Redis may be read: Coherent() and the circuit breaker closed.
  virtual bool Usable() const = 0;

  virtual boost::asio::awaitable<SharedRead<FactsAnswer>> ReadFacts(KeyId id) = 0;
  // Seals `answer` under `generation` (the fill_generation() of a read that preceded the store
  // read) and stores it.
  virtual void WriteFacts(KeyId id, std::uint64_t generation, FactsAnswer answer) = 0;

  // Owner key lists: rendered JSON bodies.
  virtual boost::asio::awaitable<SharedRead<std::string>> ReadUserList(std::string owner) = 0;
  virtual void WriteUserList(std::string owner, std::uint64_t generation, std::string body) = 0;

  // Adds a flushed usage batch to the shared per-minute counters (fire-and-forget).
  virtual void AddUsage(std::span<const UsageDelta> deltas, TimeMs now) = 0;
  // Verifications of `id` counted by every instance in the current and the previous minute.
  virtual boost::asio::awaitable<Result<RecentUsage>> ReadRecentUsage(KeyId id, TimeMs now) = 0;
};

}  // namespace keycache
