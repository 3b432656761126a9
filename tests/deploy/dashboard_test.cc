// The Grafana dashboard and its provisioning, read as Grafana would: every panel has a
// datasource (the provisioned one) and targets with an expression; the deployment guide's panels
// are there. Grafana is not packaged in Debian 12, so it does not run here: what the panels show
// is proven against a real Prometheus in monitoring_test.cc.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <set>

#include "deploy/monitoring_util.h"

namespace keycache::testing {
namespace {

constexpr const char* kDatasourceUid = "keycache-prometheus";

boost::json::value Dashboard() {
  const std::string text = ReadText(SourceFile("deploy/grafana/keycache-dashboard.json"));
  EXPECT_FALSE(text.empty()) << "deploy/grafana/keycache-dashboard.json is missing";
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  EXPECT_FALSE(ec) << "the dashboard is not JSON: " << ec.message();
  return v;
}

void ExpectProvisionedDatasource(const boost::json::value& ds, const std::string& where) {
  ASSERT_TRUE(ds.is_object()) << where << ": no datasource object";
  EXPECT_EQ(ds.at("type"), "prometheus") << where;
  EXPECT_EQ(ds.at("uid"), kDatasourceUid) << where;
}

TEST(GrafanaDashboard, EveryPanelHasTheDatasourceAndTargetsWithAnExpr) {
  const boost::json::value d = Dashboard();
  ASSERT_TRUE(d.is_object());
  EXPECT_EQ(d.at("title"), "API Key Cache Monitoring") << "the guide's dashboard title";
  const auto& panels = d.at("panels").as_array();
  ASSERT_GE(panels.size(), 12u);
  std::set<std::int64_t> ids;
  std::set<std::string> titles;
  for (const auto& p : panels) {
    const auto& panel = p.as_object();
    const std::string title(panel.at("title").as_string());
    EXPECT_TRUE(titles.insert(title).second) << "two panels titled " << title;
    EXPECT_TRUE(ids.insert(panel.at("id").to_number<std::int64_t>()).second) << title;
    EXPECT_TRUE(panel.contains("gridPos")) << title;
    ExpectProvisionedDatasource(panel.at("datasource"), title);
    const auto* targets = panel.if_contains("targets");
    ASSERT_TRUE(targets && targets->is_array() && !targets->as_array().empty())
        << title << ": no targets";
    std::set<std::string> refs;
    for (const auto& t : targets->as_array()) {
      const auto& target = t.as_object();
      ExpectProvisionedDatasource(target.at("datasource"), title);
      const std::string ref(target.at("refId").as_string());
      EXPECT_TRUE(refs.insert(ref).second) << title << ": refId " << ref << " twice";
      ASSERT_TRUE(target.contains("expr") && target.at("expr").is_string()) << title;
      EXPECT_FALSE(target.at("expr").as_string().empty()) << title << " / " << ref;
    }
  }
  for (const char* guide :
       {"Cache Hit Rate", "Cache Operations/sec", "Cache Response Time", "Verifications by outcome",
        "Verifications by cache status", "L1 entries", "L2 (Redis) keys and memory",
        "Redis, breaker and coherence", "Invalidation propagation lag", "HTTP 5xx",
        "Database latency"}) {
    EXPECT_TRUE(titles.contains(guide)) << "missing panel " << guide;
  }
}

TEST(GrafanaDashboard, TheInstanceVariableHasAnAllValueTheTestsCanSubstitute) {
  const boost::json::value d = Dashboard();
  const auto& vars = d.at("templating").at("list").as_array();
  ASSERT_EQ(vars.size(), 1u);
  EXPECT_EQ(vars[0].at("name"), "instance");
  EXPECT_EQ(vars[0].at("allValue"), ".*");
  ExpectProvisionedDatasource(vars[0].at("datasource"), "variable instance");
  // Every expression uses only the variables SubstituteGrafanaVariables knows.
  for (const NamedExpr& e : DashboardExprs(d)) {
    const std::string s = SubstituteGrafanaVariables(e.expr, "1m");
    EXPECT_EQ(s.find('$'), std::string::npos) << e.name << ": " << s;
  }
}

TEST(GrafanaProvisioning, TheDatasourceUidMatchesAndTheProviderLoadsFiles) {
  const std::string ds =
      ReadText(SourceFile("deploy/grafana/provisioning/datasources/keycache-prometheus.yml"));
  EXPECT_NE(ds.find("apiVersion: 1"), std::string::npos) << ds;
  EXPECT_NE(ds.find("type: prometheus"), std::string::npos) << ds;
  EXPECT_NE(ds.find(std::string("uid: ") + kDatasourceUid), std::string::npos) << ds;
  const std::string dash =
      ReadText(SourceFile("deploy/grafana/provisioning/dashboards/keycache.yml"));
  EXPECT_NE(dash.find("apiVersion: 1"), std::string::npos) << dash;
  EXPECT_NE(dash.find("type: file"), std::string::npos) << dash;
  EXPECT_NE(dash.find("path: "), std::string::npos) << dash;
}

TEST(MonitoringUtil, ReadsEveryAlertAndStripsItsThreshold) {
  const auto alerts = AlertExprs(ReadText(SourceFile("deploy/prometheus/alerts.yml")));
  std::set<std::string> names;
  for (const auto& a : alerts) names.insert(a.name);
  for (const char* name :
       {"KeycacheLowHitRate", "KeycacheVerificationLatencyHigh", "KeycacheRedisUnavailable",
        "RedisDown", "KeycacheInvalidationChannelDown", "KeycachePropagationLagHigh",
        "KeycacheHigh5xxRate", "RedisMemoryHigh", "KeycacheInstanceDown"}) {
    EXPECT_TRUE(names.contains(std::string("alert ") + name)) << name;
  }
  for (const auto& a : alerts) {
    EXPECT_FALSE(a.expr.empty()) << a.name;
    const std::string bare = WithoutThresholds(a.expr);
    for (const char* op : {" < ", " > ", " == ", " != ", " >= ", " <= "}) {
      EXPECT_EQ(bare.find(op), std::string::npos) << a.name << ": " << bare;
    }
  }
  EXPECT_EQ(WithoutThresholds(R"(a{le="+Inf"} / b > 0.9 and b > 0)"), R"(a{le="+Inf"} / b and b)");
  EXPECT_EQ(WithoutThresholds("up == 0"), "up");
  EXPECT_EQ(WithoutThresholds("histogram_quantile(0.95, x) < 1e-3"), "histogram_quantile(0.95, x)");
}

}  // namespace
}  // namespace keycache::testing
