// FakeSharedCache: an in-memory SharedCache with Redis's fencing semantics (a generation per key
// and per owner, entries sealed under the generation their filler saw), and the InvalidationSink
// that fences it, for service tests that need the L2 branch wired. Switches make it incoherent
// (no lease), unusable (breaker open), refuse fences, or answer reads with what a peer instance
// wrote. Thread-safe.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/invalidation_sink.h"
#include "l2/shared_cache.h"

namespace keycache::testing {

class FakeSharedCache final : public SharedCache, public InvalidationSink {
 public:
  std::atomic<bool> coherent{true};
  std::atomic<bool> usable{true};
  // Announce reports Pending, fences nothing and makes the cache unusable (the breaker opens).
  std::atomic<bool> refuse_fences{false};
  std::atomic<int> fact_reads{0};
  std::atomic<int> fact_writes{0};

  bool Coherent() const override { return coherent.load(); }
  bool Usable() const override { return usable.load() && coherent.load(); }

  boost::asio::awaitable<SharedRead<FactsAnswer>> ReadFacts(KeyId id) override {
    fact_reads.fetch_add(1);
    if (!Usable()) co_return SharedRead<FactsAnswer>::NoAnswer();
    std::lock_guard lock(mu_);
    const std::uint64_t g = generations_[id];
    auto it = facts_.find(id);
    if (it == facts_.end() || it->second.generation != g)
      co_return SharedRead<FactsAnswer>::Miss(g);
    co_return SharedRead<FactsAnswer>::Hit(it->second.answer, g);
  }
  void WriteFacts(KeyId id, std::uint64_t generation, FactsAnswer answer) override {
    fact_writes.fetch_add(1);
    std::lock_guard lock(mu_);
    facts_.insert_or_assign(id, Entry{generation, std::move(answer)});
  }
  boost::asio::awaitable<SharedRead<std::string>> ReadUserList(std::string owner) override {
    if (!Usable()) co_return SharedRead<std::string>::NoAnswer();
    std::lock_guard lock(mu_);
    const std::uint64_t g = owner_generations_[owner];
    auto it = lists_.find(owner);
    if (it == lists_.end() || it->second.first != g) co_return SharedRead<std::string>::Miss(g);
    co_return SharedRead<std::string>::Hit(it->second.second, g);
  }
  void WriteUserList(std::string owner, std::uint64_t generation, std::string body) override {
    std::lock_guard lock(mu_);
    lists_.insert_or_assign(std::move(owner), std::make_pair(generation, std::move(body)));
  }
  void AddUsage(std::span<const UsageDelta>, TimeMs) override {}
  boost::asio::awaitable<Result<RecentUsage>> ReadRecentUsage(KeyId, TimeMs) override {
    co_return RecentUsage{};
  }

  // The fence, as RedisInvalidator sends it through L2Cache::Fence.
  void Announce(const CacheChange& c, PropagationDone done) override {
    if (refuse_fences.load()) {
      usable = false;  // as L2Cache opens the breaker on a refused write
      if (done) done(Propagation::Pending("Redis refused INCR: READONLY (fake)"));
      return;
    }
    {
      std::lock_guard lock(mu_);
      if (c.kind == CacheChange::Kind::kKey) {
        ++generations_[c.id];
        facts_.erase(c.id);
      }
      if (!c.owner.empty()) {
        ++owner_generations_[c.owner];
        lists_.erase(c.owner);
      }
      if (c.kind == CacheChange::Kind::kAll || c.kind == CacheChange::Kind::kType) {
        facts_.clear();
        lists_.clear();
      }
    }
    if (done) done(Propagation::InForce());
  }

  // What another instance (sharing this Redis) would have stored: an entry sealed under the
  // current generation.
  void PutCurrent(KeyId id, FactsAnswer answer) {
    std::lock_guard lock(mu_);
    facts_.insert_or_assign(id, Entry{generations_[id], std::move(answer)});
  }
  std::optional<FactsAnswer> Stored(KeyId id) {
    std::lock_guard lock(mu_);
    auto it = facts_.find(id);
    if (it == facts_.end()) return std::nullopt;
    return it->second.answer;
  }
  std::uint64_t Generation(KeyId id) {
    std::lock_guard lock(mu_);
    return generations_[id];
  }

 private:
  struct Entry {
    std::uint64_t generation;
    FactsAnswer answer;
  };
  std::mutex mu_;
  std::map<KeyId, std::uint64_t> generations_;
  std::map<KeyId, Entry> facts_;
  std::map<std::string, std::uint64_t> owner_generations_;
  std::map<std::string, std::pair<std::uint64_t, std::string>> lists_;
};

}  // namespace keycache::testing
