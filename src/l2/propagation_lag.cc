#include "l2/propagation_lag.h"

namespace keycache {

std::vector<double> PropagationLagBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5};
}

double BucketQuantile(const Histogram& h, const Histogram::Snapshot& snap, double q) {
  if (snap.count == 0) return 0;
  const double target = q * static_cast<double>(snap.count);
  for (std::size_t i = 0; i < h.bounds().size(); ++i) {
    if (static_cast<double>(snap.cumulative[i]) >= target) return h.bounds()[i];
  }
  return h.bounds().back();
}

}  // namespace keycache
