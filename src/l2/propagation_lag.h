// The propagation lag of invalidations (a change's publication by one instance, by its wall clock,
// to its application by another): the histogram buckets every invalidation channel uses (Redis
// Pub/Sub, PostgreSQL NOTIFY) and the quantile estimate the health page shows. Pure functions.
#pragma once

#include <vector>

#include "metrics/histogram.h"

namespace keycache {

// Loopback deliveries take well under a millisecond, cross-zone ones a few; the 50 ms target
// sits on a bound.
std::vector<double> PropagationLagBuckets();

// The upper bound of the bucket holding quantile q of `snap` (taken from `h`); 0 with no samples.
double BucketQuantile(const Histogram& h, const Histogram::Snapshot& snap, double q);

}  // namespace keycache
