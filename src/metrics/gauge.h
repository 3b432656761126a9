// Gauge: a value that goes up and down (set or add). One atomic double: gauges are written
// rarely (sizes, states), so they are not striped. All members are thread-safe. A double holds
// every integer up to 2^53 exactly, so int64 counts of entries or bytes are safe to store.
#pragma once

#include <atomic>

namespace keycache {

class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  void Inc() { Add(1); }
  void Dec() { Add(-1); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

}  // namespace keycache
