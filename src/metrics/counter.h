// Counter: a monotonically increasing count, striped over per-thread slots so that hot-path
// increments from several threads do not contend on one cache line. Inc() and Value() are
// thread-safe; Value() sums the slots (relaxed reads) and may miss increments racing with it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "util/thread_slot.h"

namespace keycache {

class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Inc(std::uint64_t n = 1) {
    slots_[ThisThreadSlot()].value.fetch_add(n, std::memory_order_relaxed);
  }

  std::uint64_t Value() const {
    std::uint64_t total = 0;
    for (const Slot& s : slots_) total += s.value.load(std::memory_order_relaxed);
    return total;
  }

 private:
  struct alignas(kCacheLineBytes) Slot {
    std::atomic<std::uint64_t> value{0};
  };
  std::array<Slot, kMetricSlots> slots_;
};

}  // namespace keycache
