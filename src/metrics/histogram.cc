#include "metrics/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "metrics/check.h"

namespace keycache {
namespace {

std::size_t LinesPerSlot(std::size_t bounds) {
  constexpr std::size_t kCells = kCacheLineBytes / sizeof(std::uint64_t);
  return (bounds + 2 + kCells - 1) / kCells;  // sum + bounds + the +Inf bucket
}

}  // namespace

std::vector<double> LatencyBucketsSeconds() {
  return {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
          0.005,   0.01,     0.025,   0.05,   0.1,     0.25,   0.5,   1};
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      lines_per_slot_(LinesPerSlot(bounds_.size())),
      lines_(new Line[kMetricSlots * lines_per_slot_]) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    MetricsCheck(std::isfinite(bounds_[i]), "histogram bounds must be finite");
    MetricsCheck(i == 0 || bounds_[i - 1] < bounds_[i],
                 "histogram bounds must be strictly increasing");
  }
  for (std::size_t l = 0; l < kMetricSlots * lines_per_slot_; ++l) {
    for (auto& cell : lines_[l].cells) cell.store(0, std::memory_order_relaxed);
  }
}

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;
  const std::size_t bucket = static_cast<std::size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  const std::size_t slot = ThisThreadSlot();
  Cell(slot, 1 + bucket).fetch_add(1, std::memory_order_relaxed);
  std::atomic<std::uint64_t>& sum = Cell(slot, 0);
  std::uint64_t old_bits = sum.load(std::memory_order_relaxed);
  while (!sum.compare_exchange_weak(
      old_bits, std::bit_cast<std::uint64_t>(std::bit_cast<double>(old_bits) + v),
      std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::Collect() const {
  Snapshot snap;
  snap.cumulative.assign(bounds_.size() + 1, 0);
  for (std::size_t slot = 0; slot < kMetricSlots; ++slot) {
    snap.sum += std::bit_cast<double>(Cell(slot, 0).load(std::memory_order_relaxed));
    for (std::size_t b = 0; b <= bounds_.size(); ++b) {
      snap.cumulative[b] += Cell(slot, 1 + b).load(std::memory_order_relaxed);
    }
  }
  for (std::size_t b = 1; b < snap.cumulative.size(); ++b) {
    snap.cumulative[b] += snap.cumulative[b - 1];
  }
  snap.count = snap.cumulative.back();
  return snap;
}

}  // namespace keycache
