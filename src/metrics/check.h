// Misuse of the metrics API (bad names, wrong label counts, duplicate families) is a wiring bug,
// found at start-up: report it and abort rather than render invalid exposition text.
#pragma once

#include <string_view>

namespace keycache {

[[noreturn]] void MetricsMisuse(std::string_view what);

inline void MetricsCheck(bool ok, std::string_view what) {
  if (!ok) MetricsMisuse(what);
}

}  // namespace keycache
