// What the monitoring tests read from deploy/: the Grafana dashboard's panel expressions, the
// alert rules' expressions (and the same without their threshold comparison), and Grafana's
// template variables replaced by values Prometheus accepts. Pure functions; thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <filesystem>
#include <string>
#include <vector>

namespace keycache::testing {

// A file of the source tree (KEYCACHE_SOURCE_DIR), e.g. "deploy/grafana/keycache-dashboard.json".
std::filesystem::path SourceFile(const std::string& relative);
// The whole file; "" when it cannot be read.
std::string ReadText(const std::filesystem::path& path);

struct NamedExpr {
  std::string name;  // "panel <title> / <refId>" or "alert <name>"
  std::string expr;
};

// Every target expression of every panel of a dashboard JSON (rows' nested panels included).
std::vector<NamedExpr> DashboardExprs(const boost::json::value& dashboard);

// Every alert rule's `expr` in a Prometheus rules file (a small reader for the layout
// deploy/prometheus/alerts.yml uses: `- alert: NAME` followed by `expr: ONE LINE` or `expr: |`
// and an indented block).
std::vector<NamedExpr> AlertExprs(const std::string& rules_yaml);

// `expr` without its threshold comparisons (`> 0.8`, `== 0`, ...): the value the alert judges,
// which exists while the system is healthy.
std::string WithoutThresholds(const std::string& expr);

// Grafana's variables replaced: $__rate_interval and $__interval by `range`, $instance by ".*"
// (the dashboard's "All").
std::string SubstituteGrafanaVariables(const std::string& expr, const std::string& range);

}  // namespace keycache::testing
