// The real-data test of the monitoring kit: Debian's Prometheus runs deploy/prometheus/
// prometheus.yml (its targets and intervals rewritten for this test, the rules file beside it)
// and scrapes two real keycached instances sharing a real hardened redis-server, and Debian's
// redis_exporter in front of that Redis, while the test drives a little load (keys created,
// verified valid / unknown / revoked / out of scope, from both instances, revocations propagating
// between them). Then every Grafana panel expression and every alert expression (without its
// threshold) is evaluated through Prometheus's HTTP API: each must return at least one series
// with a value — a panel that shows nothing fails the build.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "deploy/monitoring_util.h"
#include "integration/redis_tier_util.h"
#include "support/child_process.h"
#include "support/free_port.h"

namespace keycache::testing {
namespace {

constexpr const char* kPrometheus = "/usr/bin/prometheus";
constexpr const char* kRedisExporter = "/usr/bin/prometheus-redis-exporter";
// What $__rate_interval stands for here: longer than the whole test, so every rate() sees
// every sample the test produced.
constexpr const char* kRange = "1m";

std::string UrlEncode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Replaces `from` (which must occur) by `to`; a changed deploy file fails loudly here.
::testing::AssertionResult Rewrite(std::string& text, const std::string& from,
                                   const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) {
    return ::testing::AssertionFailure()
           << "deploy/prometheus/prometheus.yml has no \"" << from << "\" to rewrite";
  }
  text.replace(at, from.size(), to);
  return ::testing::AssertionSuccess();
}

// The outcome of one instant query: how many series, how many with a number (not NaN).
struct QueryResult {
  bool ok = false;
  std::size_t series = 0;
  std::size_t with_value = 0;
  std::string body;  // for failure messages
};

QueryResult Query(ApiClient& prometheus, const std::string& expr) {
  QueryResult q;
  const Reply r = prometheus.Send(http::verb::get, "/api/v1/query?query=" + UrlEncode(expr));
  q.body = r.Describe();
  const auto* status = Member(r.json, {"status"});
  const auto* type = Member(r.json, {"data", "resultType"});
  const auto* result = Member(r.json, {"data", "result"});
  if (r.status != 200 || !status || *status != "success" || !type || !result) return q;
  q.ok = true;
  auto count = [&q](const boost::json::value& sample) {
    ++q.series;
    if (!sample.is_array() || sample.as_array().size() != 2) return;
    const auto& v = sample.as_array()[1];
    if (v.is_string() && !std::isnan(std::strtod(v.as_string().c_str(), nullptr))) ++q.with_value;
  };
  if (*type == "vector") {
    for (const auto& s : result->as_array()) count(s.at("value"));
  } else if (*type == "scalar") {
    count(*result);
  }
  return q;
}

class Load {
 public:
  Load(ApiClient& a, ApiClient& b, std::string pepper) : a_(a), b_(b), pepper_(std::move(pepper)) {}

  // One round: a new key used from both instances (B's first lookup is answered by Redis), the
  // previous round's key revoked on A (B hears it: propagation lag) and refused on B, unknown,
  // malformed and out-of-scope keys, and the owner's key list read on both.
  void Round() {
    const std::string owner = "monitoring-owner-" + std::to_string(round_ % 3);
    const CreatedKey k = CreateKey(a_, owner, {"reports:read"});
    // A first (a miss, then L1 hits; its fill reaches Redis meanwhile), then B (Redis, then L1).
    for (ApiClient* api : {&a_, &b_}) {
      for (int i = 0; i < 40; ++i) {
        EXPECT_EQ(Verify(*api, k.key, {"reports:read"}).Str("code"), "VALID");
      }
    }
    if (!previous_.id.empty()) {
      EXPECT_EQ(a_.Admin(http::verb::post, "/v1/keys/" + previous_.id + "/revoke",
                         R"({"reason":"monitoring test"})")
                    .status,
                200u);
      PollUntil([&] { return Verify(b_, previous_.key).Str("code") == "REVOKED"; });
    }
    for (ApiClient* api : {&a_, &b_}) {
      EXPECT_EQ(Verify(*api, UnknownIssuedKey(pepper_)).Str("code"), "NOT_FOUND");
      EXPECT_EQ(Verify(*api, "garbage").Str("code"), "MALFORMED");
      EXPECT_EQ(Auth(*api, k.key, "orders:write").status, 403u);
      EXPECT_EQ(api->Admin(http::verb::get, "/v1/owners/" + owner + "/keys").status, 200u);
    }
    previous_ = k;
    ++round_;
  }

 private:
  ApiClient& a_;
  ApiClient& b_;
  const std::string pepper_;
  CreatedKey previous_;
  int round_ = 0;
};

TEST(MonitoringRealData, EveryPanelAndAlertExpressionReturnsSeries) {
  ASSERT_EQ(::access(kPrometheus, X_OK), 0) << kPrometheus << ": install Debian's prometheus";
  ASSERT_EQ(::access(kRedisExporter, X_OK), 0)
      << kRedisExporter << ": install Debian's prometheus-redis-exporter";

  SharedRedisDeployment deployment;
  ASSERT_TRUE(deployment.StartRedis());
  KeycachedProcess* a = deployment.AddInstance();
  KeycachedProcess* b = deployment.AddInstance();
  ASSERT_TRUE(a && b);
  auto api_a = SharedRedisDeployment::Client(*a);
  auto api_b = SharedRedisDeployment::Client(*b);
  ASSERT_TRUE(WaitCoherent(*api_a));
  ASSERT_TRUE(WaitCoherent(*api_b));

  TempDir dir;
  // The hardened Redis has CONFIG renamed away: "-" makes the exporter skip its CONFIG metrics
  // (maxmemory still comes from INFO), as docs/operations.md tells operators.
  const std::uint16_t exporter_port = FreeLoopbackPort();
  ChildProcess exporter(
      {kRedisExporter, "-redis.addr=redis://127.0.0.1:" + std::to_string(deployment.redis().port()),
       "-redis.password=" + kRedisPassword,
       "-web.listen-address=127.0.0.1:" + std::to_string(exporter_port), "-config-command=-"},
      dir.path() / "redis_exporter.log");
  ASSERT_TRUE(exporter.started());

  std::string config = ReadText(SourceFile("deploy/prometheus/prometheus.yml"));
  ASSERT_TRUE(Rewrite(config, "scrape_interval: 15s", "scrape_interval: 1s"));
  ASSERT_TRUE(Rewrite(config, "evaluation_interval: 15s", "evaluation_interval: 1s"));
  ASSERT_TRUE(Rewrite(config, "- localhost:3333\n",
                      "- 127.0.0.1:" + std::to_string(a->port()) +
                          "\n          - 127.0.0.1:" + std::to_string(b->port()) + "\n"));
  ASSERT_TRUE(
      Rewrite(config, "- localhost:9121\n", "- 127.0.0.1:" + std::to_string(exporter_port) + "\n"));
  std::ofstream(dir.path() / "prometheus.yml") << config;
  std::filesystem::copy_file(SourceFile("deploy/prometheus/alerts.yml"), dir.path() / "alerts.yml");
  const std::uint16_t prometheus_port = FreeLoopbackPort();
  ChildProcess prometheus(
      {kPrometheus, "--config.file=" + (dir.path() / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (dir.path() / "data").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port), "--log.level=warn"},
      dir.path() / "prometheus.log");
  ASSERT_TRUE(prometheus.started());
  ApiClient prom("127.0.0.1", prometheus_port);
  ASSERT_TRUE(PollUntil([&] { return prom.Send(http::verb::get, "/-/ready").status == 200; },
                        std::chrono::seconds(20)))
      << prometheus.log();

  // Prometheus loaded the alert rules through prometheus.yml's rule_files.
  const Reply rules = prom.Send(http::verb::get, "/api/v1/rules");
  const auto alerts = AlertExprs(ReadText(SourceFile("deploy/prometheus/alerts.yml")));
  ASSERT_FALSE(alerts.empty());
  for (const NamedExpr& alert : alerts) {
    EXPECT_NE(rules.body.find("\"name\":\"" + alert.name.substr(6) + "\""), std::string::npos)
        << alert.name << " not loaded: " << rules.Describe();
  }

  const auto dashboard =
      boost::json::parse(ReadText(SourceFile("deploy/grafana/keycache-dashboard.json")));
  std::vector<NamedExpr> exprs;
  for (const NamedExpr& e : DashboardExprs(dashboard)) {
    exprs.push_back({e.name, SubstituteGrafanaVariables(e.expr, kRange)});
  }
  for (const NamedExpr& e : alerts) exprs.push_back({e.name, WithoutThresholds(e.expr)});
  ASSERT_GE(exprs.size(), 30u);

  // Load, then look; again until every expression has data (each needs two scrapes with the
  // load between them) or the bound passes.
  Load load(*api_a, *api_b, kSharedPepper);
  std::map<std::string, QueryResult> empty;
  const bool all_have_data = PollUntil(
      [&] {
        load.Round();
        empty.clear();
        for (const NamedExpr& e : exprs) {
          QueryResult q = Query(prom, e.expr);
          if (!q.ok || q.with_value == 0) empty[e.name + ": " + e.expr] = std::move(q);
        }
        return empty.empty();
      },
      std::chrono::seconds(40), std::chrono::milliseconds(500));
  std::string missing;
  for (const auto& [what, q] : empty) {
    missing += "\n  " + what + "\n    -> " +
               (q.ok ? std::to_string(q.series) + " series, " + std::to_string(q.with_value) +
                           " with a value"
                     : q.body);
  }
  EXPECT_TRUE(all_have_data) << "expressions without data:" << missing
                             << "\ntargets: " << prom.Send(http::verb::get, "/api/v1/targets").body
                             << "\nredis_exporter log: " << exporter.log();
}

}  // namespace
}  // namespace keycache::testing
