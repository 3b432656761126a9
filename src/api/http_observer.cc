#include "api/http_observer.h"

#include <memory>
#include <string>
#include <vector>

namespace keycache {
namespace {

constexpr const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

struct RouteMetrics {
  Counter* by_class[5];
  Histogram* duration;
};

struct ObserverState {
  std::vector<RouteMetrics> routes;  // index 0: requests that matched no route
  Logger* log;
  bool access_log;
};

}  // namespace

HttpMetricFamilies AddHttpMetricFamilies(Registry& registry) {
  return HttpMetricFamilies{
      &registry.AddCounter("keycache_http_requests_total",
                           "HTTP requests by route pattern and status class.", {"route", "status"}),
      &registry.AddHistogram(
          "keycache_http_request_duration_seconds",
          "Time from a request read to its response written, by route pattern.", {"route"},
          {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5})};
}

RequestObserver MakeRequestObserver(const Router& router, const HttpMetricFamilies& families,
                                    Logger& log, bool access_log) {
  CounterFamily& requests = *families.requests;
  HistogramFamily& durations = *families.durations;
  auto state = std::make_shared<ObserverState>();
  state->log = &log;
  state->access_log = access_log;
  for (int i = -1; i < static_cast<int>(router.route_count()); ++i) {
    const std::string label = i < 0 ? "unmatched" : std::string(router.pattern(i));
    RouteMetrics m;
    for (int c = 0; c < 5; ++c) m.by_class[c] = &requests.With({label, kClasses[c]});
    m.duration = &durations.With({label});
    state->routes.push_back(m);
  }
  return [state](const RequestObservation& o) {
    const std::size_t index = o.route < 0 ? 0 : static_cast<std::size_t>(o.route) + 1;
    if (index >= state->routes.size()) return;
    RouteMetrics& m = state->routes[index];
    const unsigned cls = o.status / 100;
    if (cls >= 1 && cls <= 5) m.by_class[cls - 1]->Inc();
    m.duration->Observe(std::chrono::duration<double>(o.duration).count());
    if (state->access_log && state->log->Enabled(LogLevel::kInfo)) {
      // The route pattern, never the raw target: a mistyped URL could carry a key.
      state->log->Info(
          "http_request",
          {{"method", boost::beast::http::to_string(o.method)},
           {"route", o.route < 0 ? std::string_view("-") : o.route_pattern},
           {"status", std::to_string(o.status)},
           {"us", std::to_string(
                      std::chrono::duration_cast<std::chrono::microseconds>(o.duration).count())},
           {"peer", o.peer.to_string()}});
    }
  };
}

}  // namespace keycache
