// The per-request observer: HTTP metrics (requests by route and status class, durations by
// route) and the access log line. Route labels are the router's patterns, a bounded set.
// The returned observer is thread-safe.
#pragma once

#include "http/http_types.h"
#include "http/router.h"
#include "metrics/registry.h"
#include "util/log.h"

namespace keycache {

// Call after every route is registered: label sets are resolved from router.route_count().
RequestObserver MakeRequestObserver(const Router& router, Registry& registry, Logger& log,
                                    bool access_log);

}  // namespace keycache
