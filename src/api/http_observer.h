// The per-request observer: HTTP metrics (requests by route and status class, durations by
// route) and the access log line. Route labels are the router's patterns, a bounded set.
// The returned observer is thread-safe.
#pragma once

#include "http/http_types.h"
#include "http/router.h"
#include "metrics/registry.h"
#include "util/log.h"

namespace keycache {

// The metric families the observers share (one registry may serve several listeners).
struct HttpMetricFamilies {
  CounterFamily* requests;
  HistogramFamily* durations;
};
HttpMetricFamilies AddHttpMetricFamilies(Registry& registry);

// Call after every route is registered: label sets are resolved from router.route_count().
RequestObserver MakeRequestObserver(const Router& router, const HttpMetricFamilies& families,
                                    Logger& log, bool access_log);

}  // namespace keycache
