#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace keycache {
namespace {

TEST(Registry, RendersASmallRegistryExactly) {
  Registry r;
  auto& hits =
      r.AddCounter("cache_hits_total", "Total number of cache hits", {"cache_type", "key_type"});
  hits.With({"validation", "api_key"}).Inc(3);
  hits.With({"scope", "api_key"}).Inc();
  r.AddGauge("cache_memory_bytes", "Bytes held by the cache").With({}).Set(1024);
  auto& latency = r.AddHistogram("cache_operation_duration_seconds", "Duration of cache operations",
                                 {"operation"}, {0.25, 1});
  auto& get = latency.With({"get"});
  get.Observe(0.125);
  get.Observe(0.25);
  get.Observe(4);

  EXPECT_EQ(r.Render(),
            "# HELP cache_hits_total Total number of cache hits\n"
            "# TYPE cache_hits_total counter\n"
            "cache_hits_total{cache_type=\"scope\",key_type=\"api_key\"} 1\n"
            "cache_hits_total{cache_type=\"validation\",key_type=\"api_key\"} 3\n"
            "# HELP cache_memory_bytes Bytes held by the cache\n"
            "# TYPE cache_memory_bytes gauge\n"
            "cache_memory_bytes 1024\n"
            "# HELP cache_operation_duration_seconds Duration of cache operations\n"
            "# TYPE cache_operation_duration_seconds histogram\n"
            "cache_operation_duration_seconds_bucket{operation=\"get\",le=\"0.25\"} 2\n"
            "cache_operation_duration_seconds_bucket{operation=\"get\",le=\"1\"} 2\n"
            "cache_operation_duration_seconds_bucket{operation=\"get\",le=\"+Inf\"} 3\n"
            "cache_operation_duration_seconds_sum{operation=\"get\"} 4.375\n"
            "cache_operation_duration_seconds_count{operation=\"get\"} 3\n");
}

TEST(Registry, WithReturnsTheSameChildForTheSameLabels) {
  Registry r;
  auto& family = r.AddCounter("requests_total", "Requests", {"route"});
  Counter& a = family.With({"verify"});
  family.With({"admin"});  // a new child must not move the first one
  Counter& again = family.With({"verify"});
  EXPECT_EQ(&a, &again);
  a.Inc();
  EXPECT_EQ(again.Value(), 1u);
}

TEST(Registry, UnlabelledFamiliesRenderZeroBeforeFirstUse) {
  Registry r;
  r.AddCounter("errors_total", "Errors");
  r.AddHistogram("wait_seconds", "Wait", {}, {1});
  EXPECT_EQ(r.Render(),
            "# HELP errors_total Errors\n"
            "# TYPE errors_total counter\n"
            "errors_total 0\n"
            "# HELP wait_seconds Wait\n"
            "# TYPE wait_seconds histogram\n"
            "wait_seconds_bucket{le=\"1\"} 0\n"
            "wait_seconds_bucket{le=\"+Inf\"} 0\n"
            "wait_seconds_sum 0\n"
            "wait_seconds_count 0\n");
}

TEST(Registry, LabelledFamilyWithoutChildrenIsOmitted) {
  Registry r;
  r.AddCounter("unused_total", "Never wired", {"kind"});
  r.AddGauge("up", "Up").With({}).Set(1);
  EXPECT_EQ(r.Render(), "# HELP up Up\n# TYPE up gauge\nup 1\n");
}

TEST(Registry, EscapesLabelValuesAndHelp) {
  Registry r;
  r.AddCounter("odd_total", "Help with \\ and\nnewline", {"v"})
      .With({"quote\" backslash\\ newline\n"})
      .Inc();
  EXPECT_EQ(r.Render(),
            "# HELP odd_total Help with \\\\ and\\nnewline\n"
            "# TYPE odd_total counter\n"
            "odd_total{v=\"quote\\\" backslash\\\\ newline\\n\"} 1\n");
}

TEST(Registry, CallbackGaugesAreEvaluatedAtRenderTime) {
  Registry r;
  std::atomic<int> validation_size{3};
  auto& sizes = r.AddCallbackGauge("cache_size_entries", "Entries", {"cache_type"});
  sizes.Add({"validation"}, [&] { return validation_size.load(); });
  sizes.Add({"scope"}, [] { return 0.5; });
  const std::string before = r.Render();
  EXPECT_NE(before.find("cache_size_entries{cache_type=\"validation\"} 3\n"), std::string::npos)
      << before;
  EXPECT_NE(before.find("cache_size_entries{cache_type=\"scope\"} 0.5\n"), std::string::npos);
  validation_size = 7;
  EXPECT_NE(r.Render().find("cache_size_entries{cache_type=\"validation\"} 7\n"),
            std::string::npos);
}

TEST(Registry, RendersWhileOtherThreadsIncrement) {
  Registry r;
  Counter& c = r.AddCounter("busy_total", "Busy").With({});
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop.load()) c.Inc();
  });
  for (int i = 0; i < 100; ++i) EXPECT_EQ(r.Render().rfind("# HELP busy_total Busy\n", 0), 0u);
  stop = true;
  writer.join();
  EXPECT_EQ(r.Render(), "# HELP busy_total Busy\n# TYPE busy_total counter\nbusy_total " +
                            std::to_string(c.Value()) + "\n");
}

TEST(RegistryDeathTest, RejectsWiringMistakes) {
  EXPECT_DEATH({ Registry().AddCounter("hits", "no _total suffix"); }, "_total");
  EXPECT_DEATH({ Registry().AddGauge("size_total", "gauge named like a counter"); }, "_total");
  EXPECT_DEATH({ Registry().AddGauge("bad-name", "x"); }, "invalid metric name");
  EXPECT_DEATH({ Registry().AddGauge("g", "x", {"__name"}); }, "invalid label name");
  EXPECT_DEATH({ Registry().AddGauge("g", "x", {"a", "a"}); }, "duplicate label name");
  EXPECT_DEATH({ Registry().AddHistogram("h", "x", {"le"}, {1}); }, "reserved");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddGauge("g", "x");
        r.AddGauge("g", "y");
      },
      "registered twice");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddHistogram("latency", "x", {}, {1});
        r.AddGauge("latency_count", "collides with the histogram's _count");
      },
      "registered twice");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddCounter("c_total", "x", {"a", "b"}).With({"only one"});
      },
      "wrong number of label values");
  EXPECT_DEATH(
      {
        Registry r;
        auto& f = r.AddCallbackGauge("cb", "x", {"a"});
        f.Add({"1"}, [] { return 1.0; });
        f.Add({"1"}, [] { return 2.0; });
      },
      "duplicate label values");
}

}  // namespace
}  // namespace keycache
