// SingleFlight: coalesces concurrent loads of one key, so N simultaneous misses make one read of
// the source of truth. Thread-safe; waiters are invoked outside the lock, on the completing thread.
//
// A flight that began before an invalidation may be joined by callers that arrived after it. Its
// leader therefore seals the flight just before each read begins (Seal): if an invalidation then
// overtakes the read, the read still answers the waiters who asked before it began (ServeSealed:
// it is at least as new as their requests) while those who joined during it get a later read, so
// that no waiter receives a value older than an invalidation that preceded its arrival.
#pragma once

#include <cstddef>
#include <functional>
#include <iterator>
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
  // must perform the load, then end it with Complete (or ServeSealed until that returns false),
  // or the waiters wait forever.
  bool Join(const K& key, Callback on_done) {
    std::lock_guard lock(mu_);
    auto [it, leader] = flights_.try_emplace(key);
    it->second.waiters.push_back(std::move(on_done));
    return leader;
  }

  // The key's waiters so far are the ones the read about to begin answers in any case
  // (ServeSealed). No-op if the key has no flight.
  void Seal(const K& key) {
    std::lock_guard lock(mu_);
    auto it = flights_.find(key);
    if (it != flights_.end()) it->second.sealed = it->second.waiters.size();
  }

  // Hands `value` to the waiters sealed last, only. True when others joined since: the flight
  // goes on (same leader), and they need a read that begins after they joined.
  bool ServeSealed(const K& key, const V& value) {
    std::vector<Callback> served;
    bool more = false;
    {
      std::lock_guard lock(mu_);
      auto it = flights_.find(key);
      if (it == flights_.end()) return false;
      Flight& f = it->second;
      const auto end = f.waiters.begin() + static_cast<std::ptrdiff_t>(f.sealed);
      served.assign(std::make_move_iterator(f.waiters.begin()), std::make_move_iterator(end));
      f.waiters.erase(f.waiters.begin(), end);
      f.sealed = 0;
      more = !f.waiters.empty();
      if (!more) flights_.erase(it);
    }
    for (Callback& done : served) done(value);
    return more;
  }

  // Ends the key's flight and hands `value` to every waiter; a later Join starts a new flight.
  // No-op if the key has no flight.
  void Complete(const K& key, const V& value) {
    std::vector<Callback> waiters;
    {
      std::lock_guard lock(mu_);
      auto it = flights_.find(key);
      if (it == flights_.end()) return;
      waiters = std::move(it->second.waiters);
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
  struct Flight {
    std::vector<Callback> waiters;
    std::size_t sealed = 0;  // waiters.begin() .. + sealed were there when the read began
  };
  std::unordered_map<K, Flight, Hash> flights_;  // guarded by mu_
};

}  // namespace keycache
