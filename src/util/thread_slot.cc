#include "util/thread_slot.h"

#include <atomic>

namespace keycache::detail {

std::size_t NextThreadSlot() {
  // Process-wide by necessity: slot numbers must differ across every striped structure (metrics,
  // usage).
  static std::atomic<std::size_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed) % kMetricSlots;
}

}  // namespace keycache::detail
