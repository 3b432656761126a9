// InvalidationSink: where a committed change is announced, right after the store committed it and
// before the operation answers. The L1 sink drops local entries at once; the Redis tier's sink
// fences the shared cache and tells the other instances. Each announcement reports, exactly once
// and possibly later on another thread, whether the change is now in force on every instance (the
// operation may only answer "done" then: docs/adr/0003). FanOutInvalidator joins several sinks.
// Implementations are thread-safe and never block the announcing thread on I/O.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/cache_change.h"

namespace keycache {

// Whether a change is in force everywhere, and if not, why (for the answer and the log).
struct Propagation {
  bool in_force = true;
  std::string reason;  // set when !in_force

  static Propagation InForce() { return {}; }
  static Propagation Pending(std::string reason) { return {false, std::move(reason)}; }
};

using PropagationDone = std::function<void(Propagation)>;

class InvalidationSink {
 public:
  virtual ~InvalidationSink() = default;
  // `done` (may be empty) runs exactly once, on any thread, possibly before Announce returns.
  virtual void Announce(const CacheChange& change, PropagationDone done) = 0;
};

// Announces to every sink in order (L1 first, then shared tiers); once all of them reported, the
// change is announced again to the sinks added with AddFinal (L1 again: a request may have
// refilled it from Redis after the first announcement but before the shared tier's fence ran),
// and then `done` runs, with the first failure's reason. Sinks are added at wiring time only.
class FanOutInvalidator final : public InvalidationSink {
 public:
  void Add(InvalidationSink& sink) { sinks_.push_back(&sink); }
  // Also announced to after every sink of Add reported, before `done` (synchronous sinks only).
  void AddFinal(InvalidationSink& sink) { finals_.push_back(&sink); }

  void Announce(const CacheChange& change, PropagationDone done) override {
    struct Join {
      std::atomic<std::size_t> left;
      CacheChange change;
      const std::vector<InvalidationSink*>* finals;
      PropagationDone done;
      std::atomic<bool> failed{false};
      std::string reason;  // written once, by the first sink to fail (before `left` drops)
    };
    auto join = std::make_shared<Join>();
    join->left.store(sinks_.size() + 1);
    join->change = change;
    join->finals = &finals_;
    join->done = std::move(done);
    auto arrive = [join](Propagation p) {
      if (!p.in_force && !join->failed.exchange(true)) join->reason = std::move(p.reason);
      if (join->left.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
      for (InvalidationSink* sink : *join->finals) sink->Announce(join->change, {});
      if (!join->done) return;
      join->done(join->failed.load() ? Propagation::Pending(join->reason) : Propagation::InForce());
    };
    for (InvalidationSink* sink : sinks_) sink->Announce(change, arrive);
    arrive(Propagation::InForce());  // the announcer's own share: no sink finishes the join early
  }

 private:
  std::vector<InvalidationSink*> sinks_;   // set at wiring time, read-only afterwards
  std::vector<InvalidationSink*> finals_;  // likewise
};

}  // namespace keycache
