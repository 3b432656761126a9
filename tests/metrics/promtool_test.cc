// Feeds a registry holding every metric type to Prometheus' own checker. The test fails (it
// does not skip) when promtool is missing: without it, nothing proves the output parses.
#include "support/promtool.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "metrics/registry.h"

namespace keycache {
namespace {

using testing::kPromtool;
using testing::PromtoolCheck;
using CheckResult = testing::PromtoolResult;

void FillEveryMetricType(Registry& r) {
  auto& hits =
      r.AddCounter("cache_hits_total", "Total number of cache hits", {"cache_type", "key_type"});
  hits.With({"validation", "api_key"}).Inc(42);
  hits.With({"scope", "api_key"}).Inc(7);
  r.AddCounter("cache_errors_total", "Cache errors").With({}).Inc();

  auto& memory = r.AddGauge("cache_memory_bytes", "Bytes held by the cache", {"cache_type"});
  memory.With({"validation"}).Set(123456);
  memory.With({"odd \"value\" with \\ and\nnewline"}).Set(-1.5);

  auto& latency = r.AddHistogram("cache_operation_duration_seconds", "Duration of cache operations",
                                 {"operation", "cache_type"}, LatencyBucketsSeconds());
  auto& get = latency.With({"get", "validation"});
  for (double v : {0.000004, 0.00002, 0.0009, 0.001, 0.3, 2.0}) get.Observe(v);
  latency.With({"set", "validation"});

  auto& sizes =
      r.AddCallbackGauge("cache_size_entries", "Number of entries in cache", {"cache_type"});
  sizes.Add({"validation"}, [] { return 17.0; });
  sizes.Add({"scope"}, [] { return 0.0; });
  r.AddCallbackGauge("cache_hit_ratio", "Hit ratio over the last minute").Add({}, [] {
    return 0.875;
  });
}

TEST(Promtool, IsInstalled) {
  ASSERT_EQ(::access(kPromtool, X_OK), 0)
      << kPromtool << " is missing; install Debian's prometheus package";
}

TEST(Promtool, AcceptsARegistryWithEveryMetricType) {
  ASSERT_EQ(::access(kPromtool, X_OK), 0)
      << kPromtool << " is missing; install Debian's prometheus package";
  Registry r;
  FillEveryMetricType(r);
  const std::string text = r.Render();
  const CheckResult check = PromtoolCheck(text);
  EXPECT_EQ(check.exit_code, 0) << "promtool said:\n" << check.output << "\ninput:\n" << text;
}

// Proves the harness above can fail: promtool must reject a counter without _total.
TEST(Promtool, RejectsAnInvalidExposition) {
  ASSERT_EQ(::access(kPromtool, X_OK), 0)
      << kPromtool << " is missing; install Debian's prometheus package";
  const CheckResult check =
      PromtoolCheck("# HELP hits Hits\n# TYPE hits counter\nhits{a=\"1\"} 1\n");
  EXPECT_NE(check.exit_code, 0) << check.output;
}

}  // namespace
}  // namespace keycache
