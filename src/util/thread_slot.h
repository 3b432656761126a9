// Per-thread slot indices for striped counters: each thread gets one slot number, fixed for its
// lifetime, so concurrent increments from different threads usually land on different cache
// lines. Thread-safe.
#pragma once

#include <cstddef>

namespace keycache {

// Enough slots to keep a few dozen I/O and database threads mostly apart; a power of two.
inline constexpr std::size_t kMetricSlots = 16;

// Cache-line size assumed for padding (std::hardware_destructive_interference_size is not
// reliably usable with g++ 12 without warnings).
inline constexpr std::size_t kCacheLineBytes = 64;

namespace detail {
std::size_t NextThreadSlot();
}  // namespace detail

// Slots are handed out round-robin as threads first touch a metric, so N <= kMetricSlots
// threads never share one.
inline std::size_t ThisThreadSlot() {
  thread_local const std::size_t slot = detail::NextThreadSlot();
  return slot;
}

}  // namespace keycache
