// The status page's HTML: one self-contained document (inline CSS and script, no CDN, no build
// step) that polls /health/cache and /metrics every two seconds and shows health, hit rate by
// tier, verifications per second by outcome, cache sizes, Redis and breaker state, invalidation
// lag and database latency. Immutable data; thread-safe.
#pragma once

#include <string_view>

namespace keycache {

std::string_view StatusPageHtml();

}  // namespace keycache
