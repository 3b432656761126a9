// SingleFlight: coalesces concurrent loads of one key, so N simultaneous misses make one read of
// the source of truth. Thread-safe; waiters are invoked outside the lock, on the completing thread.
//
// A flight that began before an invalidation may be joined by callers that arrived after it. Its
// leader should therefore complete only with a value whose fenced fill was accepted (or retry the
// load a bounded number of times), so that no waiter receives a value older than an invalidation
// that preceded its arrival.
#pragma once

#include <functional>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace keycache {

template <class K, class V, class Hash = std::hash<K>>
class SingleFlight {
 public:
  using Callback = std::function<void(const V&)>;

  // Registers `on_done` for the key's flight. Returns true if the caller started the flight and
  // must perform the load, then call Complete (exactly once, or the waiters wait forever).
  bool Join(const K& key, Callback on_done) {
    std::lock_guard lock(mu_);
    auto [it, leader] = flights_.try_emplace(key);
    it->second.push_back(std::move(on_done));
    return leader;
  }

  // Ends the key's flight and hands `value` to every waiter; a later Join starts a new flight.
  // No-op if the key has no flight.
  void Complete(const K& key, const V& value) {
    std::vector<Callback> waiters;
    {
      std::lock_guard lock(mu_);
      auto it = flights_.find(key);
      if (it == flights_.end()) return;
      waiters = std::move(it->second);
      flights_.erase(it);
    }
    for (Callback& done : waiters) done(value);
  }

  // Keys with a flight in progress.
  std::size_t InFlight() const {
    std::lock_guard lock(mu_);
    return flights_.size();
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<K, std::vector<Callback>, Hash> flights_;  // guarded by mu_
};

}  // namespace keycache
