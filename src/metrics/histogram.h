// Histogram: counts of observations in fixed buckets plus their sum, striped over per-thread
// slots like Counter so Observe() is cheap from many threads. Observe() and Collect() are
// thread-safe; Collect() reads relaxed and may miss observations racing with it, but its count
// always equals its +Inf bucket.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "util/thread_slot.h"

namespace keycache {

// Upper bounds suited to an in-process verification path: 10 us .. 1 s. Includes the
// 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1 s buckets of the original system's dashboards.
std::vector<double> LatencyBucketsSeconds();

class Histogram {
 public:
  // `bounds`: finite, strictly increasing upper bounds; the +Inf bucket is implicit.
  // Anything else is a programming error and aborts.
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Counts `v` in the first bucket whose bound is >= v (bounds are inclusive, as Prometheus'
  // `le` says). NaN is ignored: it would poison the sum forever.
  void Observe(double v);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot Collect() const;

  const std::vector<double>& bounds() const { return bounds_; }

 private:
  struct alignas(kCacheLineBytes) Line {
    std::atomic<std::uint64_t> cells[kCacheLineBytes / sizeof(std::uint64_t)];
  };
  static constexpr std::size_t kCellsPerLine = kCacheLineBytes / sizeof(std::uint64_t);

  // Slot layout: cell 0 holds the sum's bits, cells 1..bounds+1 the per-bucket counts.
  std::atomic<std::uint64_t>& Cell(std::size_t slot, std::size_t i) const {
    const std::size_t index = slot * lines_per_slot_ * kCellsPerLine + i;
    return lines_[index / kCellsPerLine].cells[index % kCellsPerLine];
  }

  const std::vector<double> bounds_;
  const std::size_t lines_per_slot_;
  const std::unique_ptr<Line[]> lines_;
};

}  // namespace keycache
