#include "deploy/monitoring_util.h"

#include <fstream>
#include <regex>
#include <sstream>

namespace keycache::testing {
namespace {

void CollectPanels(const boost::json::value& panels, std::vector<NamedExpr>& out) {
  if (!panels.is_array()) return;
  for (const auto& p : panels.as_array()) {
    if (!p.is_object()) continue;
    const auto& panel = p.as_object();
    const std::string title = panel.contains("title") && panel.at("title").is_string()
                                  ? std::string(panel.at("title").as_string())
                                  : "(untitled)";
    if (const auto* nested = panel.if_contains("panels")) CollectPanels(*nested, out);
    const auto* targets = panel.if_contains("targets");
    if (!targets || !targets->is_array()) continue;
    for (const auto& t : targets->as_array()) {
      if (!t.is_object()) continue;
      const auto* expr = t.as_object().if_contains("expr");
      const auto* ref = t.as_object().if_contains("refId");
      out.push_back({"panel \"" + title + "\" / " +
                         (ref && ref->is_string() ? std::string(ref->as_string()) : "?"),
                     expr && expr->is_string() ? std::string(expr->as_string()) : ""});
    }
  }
}

std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::size_t Indent(const std::string& line) {
  const auto b = line.find_first_not_of(' ');
  return b == std::string::npos ? line.size() : b;
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

}  // namespace

std::filesystem::path SourceFile(const std::string& relative) {
  return std::filesystem::path(KEYCACHE_SOURCE_DIR) / relative;
}

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<NamedExpr> DashboardExprs(const boost::json::value& dashboard) {
  std::vector<NamedExpr> out;
  if (const auto* panels =
          dashboard.is_object() ? dashboard.as_object().if_contains("panels") : nullptr) {
    CollectPanels(*panels, out);
  }
  return out;
}

std::vector<NamedExpr> AlertExprs(const std::string& rules_yaml) {
  std::vector<NamedExpr> out;
  std::istringstream in(rules_yaml);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string alert;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string t = Trim(lines[i]);
    if (t.rfind("- alert:", 0) == 0) {
      alert = Trim(t.substr(8));
      continue;
    }
    if (t.rfind("expr:", 0) != 0 || alert.empty()) continue;
    std::string expr = Trim(t.substr(5));
    if (expr == "|" || expr == "|-" || expr == ">") {
      expr.clear();
      const std::size_t key_indent = Indent(lines[i]);
      while (i + 1 < lines.size() &&
             (Trim(lines[i + 1]).empty() || Indent(lines[i + 1]) > key_indent)) {
        expr += Trim(lines[++i]) + " ";
      }
      expr = Trim(expr);
    }
    out.push_back({"alert " + alert, expr});
    alert.clear();
  }
  return out;
}

std::string WithoutThresholds(const std::string& expr) {
  static const std::regex kThreshold(R"(\s*(==|!=|>=|<=|>|<)\s*(bool\s+)?-?[0-9][0-9.eE+-]*)");
  return std::regex_replace(expr, kThreshold, "");
}

std::string SubstituteGrafanaVariables(const std::string& expr, const std::string& range) {
  std::string s = ReplaceAll(expr, "$__rate_interval", range);
  s = ReplaceAll(s, "$__interval", range);
  return ReplaceAll(s, "$instance", ".*");
}

}  // namespace keycache::testing
