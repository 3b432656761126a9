// Health checks and Prometheus metrics over real HTTP. /metrics is checked by Prometheus' own
// promtool: the test fails (it does not skip) when promtool is missing.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "integration/integration_util.h"
#include "support/promtool.h"
#include "util/time_format.h"

namespace keycache::testing {
namespace {

class IntegHealth : public ServerTest<IntegHealth> {};

// A server of its own: its hit-rate window holds only that test's lookups.
class IntegFreshHealth : public ServerTest<IntegFreshHealth> {};

class IntegDegradedHealth : public ServerTest<IntegDegradedHealth> {
 public:
  static EnvVars Env() { return {{"KEYCACHE_HEALTH_MIN_LOOKUPS", "20"}}; }
};

// The sum of the samples of `name` whose labels contain every one of `labels` (e.g.
// `cache_type="validation"`); -1 when there is none.
double Sample(const std::string& exposition, const std::string& name,
              const std::vector<std::string>& labels) {
  std::istringstream lines(exposition);
  std::string line;
  double sum = -1;
  while (std::getline(lines, line)) {
    if (line.rfind(name + "{", 0) != 0 && line.rfind(name + " ", 0) != 0) continue;
    bool all = true;
    for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
    if (!all) continue;
    sum = std::max(sum, 0.0) + std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return sum;
}

void ExpectCacheHealthDocument(const Reply& r) {
  ASSERT_TRUE(r.json.is_object()) << r.Describe();
  EXPECT_TRUE(r.json.at("status").is_string()) << r.Describe();
  ASSERT_TRUE(r.json.at("timestamp").is_string()) << r.Describe();
  EXPECT_TRUE(ParseRfc3339(r.json.at("timestamp").as_string())) << r.Describe();
  const auto* connected = Member(r.json, {"cache", "connected"});
  ASSERT_NE(connected, nullptr) << r.Describe();
  EXPECT_TRUE(connected->is_bool());
  const auto* hit_rate = Member(r.json, {"cache", "hitRate"});
  ASSERT_NE(hit_rate, nullptr) << r.Describe();
  ASSERT_TRUE(hit_rate->is_number());
  EXPECT_GE(hit_rate->to_number<double>(), 0.0);
  EXPECT_LE(hit_rate->to_number<double>(), 1.0);
  const auto* total = Member(r.json, {"cache", "totalEntries"});
  ASSERT_NE(total, nullptr) << r.Describe();
  ASSERT_TRUE(total->is_int64() || total->is_uint64());
  const auto* breakdown = Member(r.json, {"cache", "breakdown"});
  ASSERT_NE(breakdown, nullptr) << r.Describe();
  ASSERT_TRUE(breakdown->is_object());
  EXPECT_EQ(breakdown->as_object().size(), 4u) << "exactly the guide's four caches: " << r.body;
  double sum = 0;
  for (const char* type : {"validation", "scope", "userList", "usage"}) {
    const auto* v = breakdown->as_object().if_contains(type);
    ASSERT_NE(v, nullptr) << type << ": " << r.Describe();
    ASSERT_TRUE(v->is_int64() || v->is_uint64()) << type;
    sum += v->to_number<double>();
  }
  EXPECT_EQ(total->to_number<double>(), sum) << "totalEntries is the sum of the breakdown";
}

TEST_F(IntegHealth, LiveAndReadyAnswer200) {
  const Reply live = api().Send(http::verb::get, "/health/live");
  EXPECT_EQ(live.status, 200u) << live.Describe();
  EXPECT_EQ(live.Str("status"), "ok");
  const Reply ready = api().Send(http::verb::get, "/health/ready");
  EXPECT_EQ(ready.status, 200u) << ready.Describe();
  EXPECT_EQ(ready.Str("status"), "ready");
  EXPECT_EQ(ready.Str("database"), "ok");
}

TEST_F(IntegHealth, CacheHealthHasTheDeploymentGuideFields) {
  const Reply idle = api().Send(http::verb::get, "/health/cache");
  EXPECT_EQ(idle.status, 200u) << idle.Describe();
  EXPECT_EQ(idle.Str("status"), "healthy");
  ExpectCacheHealthDocument(idle);

  const CreatedKey k = CreateKey(api(), UniqueOwner("health"), {"reports:read"});
  ASSERT_EQ(Verify(api(), k.key, {"reports:read"}).Str("code"), "VALID");
  const Reply busy = api().Send(http::verb::get, "/health/cache");
  EXPECT_EQ(busy.status, 200u) << busy.Describe();
  ExpectCacheHealthDocument(busy);
  EXPECT_EQ(*Member(busy.json, {"cache", "connected"}), true);
  const auto* validation = Member(busy.json, {"cache", "breakdown", "validation"});
  ASSERT_NE(validation, nullptr);
  EXPECT_GE(validation->to_number<double>(), 1.0) << busy.Describe();
}

TEST_F(IntegHealth, MetricsPassPromtoolAndCarryTheGuideSeries) {
  ASSERT_EQ(::access(kPromtool, X_OK), 0)
      << kPromtool << " is missing; install Debian's prometheus package";
  const CreatedKey k = CreateKey(api(), UniqueOwner("metrics"), {"reports:read"});
  ASSERT_EQ(Verify(api(), k.key, {"reports:read"}).Header("X-Cache-Status"), "MISS");
  ASSERT_EQ(Verify(api(), k.key, {"reports:read"}).Header("X-Cache-Status"), "HIT");
  ASSERT_EQ(Verify(api(), UnknownWellFormedKey()).Str("code"), "NOT_FOUND");
  ASSERT_EQ(Verify(api(), "garbage").Str("code"), "MALFORMED");
  ASSERT_EQ(Auth(api(), k.key, "orders:write").status, 403u);

  const Reply r = api().Send(http::verb::get, "/metrics");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_NE(r.Header("Content-Type").find("text/plain"), std::string::npos);
  const PromtoolResult check = PromtoolCheck(r.body);
  EXPECT_EQ(check.exit_code, 0) << "promtool said:\n" << check.output << "\ninput:\n" << r.body;

  for (const char* series :
       {"cache_hits_total", "cache_misses_total", "cache_operation_duration_seconds_bucket",
        "cache_size_entries", "cache_errors_total", "keycache_verifications_total"}) {
    EXPECT_NE(r.body.find(std::string("\n") + series), std::string::npos) << series << "\n"
                                                                          << r.body;
  }
  EXPECT_GE(Sample(r.body, "cache_hits_total", {"cache_type=\"validation\""}), 1.0) << r.body;
  EXPECT_GE(Sample(r.body, "cache_misses_total", {"cache_type=\"validation\""}), 1.0) << r.body;
  for (const char* code : {"VALID", "NOT_FOUND", "MALFORMED", "INSUFFICIENT_SCOPE"}) {
    EXPECT_GE(
        Sample(r.body, "keycache_verifications_total", {std::string("code=\"") + code + "\""}), 1.0)
        << code << "\n"
        << r.body;
  }
  EXPECT_GE(Sample(r.body, "cache_size_entries", {"cache_type=\"validation\""}), 1.0) << r.body;
  // Per-route HTTP series exist for every route (the observer is built from the complete route
  // table; built before the routes, it once labelled everything "unmatched").
  EXPECT_GE(Sample(r.body, "keycache_http_requests_total",
                   {"route=\"/v1/keys/verify\"", "status=\"2xx\""}),
            4.0)
      << r.body;
  EXPECT_GE(
      Sample(r.body, "keycache_http_requests_total", {"route=\"/v1/auth\"", "status=\"4xx\""}), 1.0)
      << r.body;
  EXPECT_GE(
      Sample(r.body, "keycache_http_requests_total", {"route=\"/v1/keys\"", "status=\"2xx\""}), 1.0)
      << r.body;
}

// Issue 9: the guide's `jq '.cache.hitRate'` must print 0.5, not Boost.JSON's 5E-1.
TEST_F(IntegFreshHealth, HitRatesArePlainDecimalsWithEachTierBeside) {
  const CreatedKey k = CreateKey(api(), UniqueOwner("decimal"), {"reports:read"});
  ASSERT_EQ(Verify(api(), k.key).Header("X-Cache-Status"), "MISS");
  ASSERT_EQ(Verify(api(), k.key).Header("X-Cache-Status"), "HIT");
  const Reply r = api().Send(http::verb::get, "/health/cache");
  ASSERT_EQ(r.status, 200u) << r.Describe();
  EXPECT_NE(r.body.find(R"("hitRate":0.5,)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("hitRateByTier":{"l1":0.5,"redis":0.0})"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("lookupsByTier":{"l1":1,"redis":0,"database":1})"), std::string::npos)
      << r.body;
  EXPECT_EQ(r.body.find("E-"), std::string::npos) << r.body;
}

TEST_F(IntegDegradedHealth, LowHitRateMakesCacheHealthDegraded) {
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(Verify(api(), UnknownIssuedKey(server().pepper())).Str("code"), "NOT_FOUND");
  const Reply few = api().Send(http::verb::get, "/health/cache");
  EXPECT_EQ(few.status, 200u) << "10 lookups are fewer than KEYCACHE_HEALTH_MIN_LOOKUPS=20: "
                              << few.Describe();

  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(Verify(api(), UnknownIssuedKey(server().pepper())).Str("code"), "NOT_FOUND");
  Reply r;
  EXPECT_TRUE(PollUntil([&] {
    return (r = api().Send(http::verb::get, "/health/cache")).status == 503;
  })) << r.Describe();
  EXPECT_EQ(r.Str("status"), "degraded") << r.Describe();
  ExpectCacheHealthDocument(r);
  const auto* hit_rate = Member(r.json, {"cache", "hitRate"});
  ASSERT_NE(hit_rate, nullptr);
  EXPECT_LT(hit_rate->to_number<double>(), 0.8);
  EXPECT_FALSE(r.Str("reason").empty()) << r.Describe();

  // Degraded cache, healthy process.
  ExpectHealthy(server().port());
}

}  // namespace
}  // namespace keycache::testing
