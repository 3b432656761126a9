// The dependency picture cannot drift: every `#include "dir/..."` in src/ must be an edge that
// src/dependencies.txt allows, the allowed edges form no cycle, and every folder of src/ is listed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace keycache {
namespace {

namespace fs = std::filesystem;
using Rules = std::map<std::string, std::set<std::string>>;

fs::path SourceDir() { return fs::path(KEYCACHE_SOURCE_DIR); }

Rules ReadRules(const fs::path& file) {
  Rules rules;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::set<std::string>& allowed = rules[line.substr(0, colon)];
    std::istringstream deps(line.substr(colon + 1));
    for (std::string d; deps >> d;) allowed.insert(d);
  }
  return rules;
}

bool Reaches(const Rules& rules, const std::string& from, const std::string& to,
             std::set<std::string>& seen) {
  auto it = rules.find(from);
  if (it == rules.end()) return false;
  for (const std::string& next : it->second) {
    if (next == to) return true;
    if (seen.insert(next).second && Reaches(rules, next, to, seen)) return true;
  }
  return false;
}

TEST(IncludeRules, EveryIncludeOfAnotherComponentIsAnAllowedEdge) {
  const fs::path src = SourceDir() / "src";
  ASSERT_TRUE(fs::is_directory(src)) << "KEYCACHE_SOURCE_DIR must point at the source tree";
  const Rules rules = ReadRules(src / "dependencies.txt");
  ASSERT_FALSE(rules.empty());
  const std::regex include(R"re(^\s*#\s*include\s+"([a-z0-9_]+)/[^"]+")re");
  std::vector<std::string> violations;
  std::size_t checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(src)) {
    if (!entry.is_regular_file()) continue;
    const auto ext = entry.path().extension();
    if (ext != ".h" && ext != ".cc") continue;
    const std::string component = fs::relative(entry.path(), src).begin()->string();
    const auto allowed = rules.find(component);
    if (allowed == rules.end()) {
      violations.push_back(component + " (" + entry.path().filename().string() +
                           "): the component is not in src/dependencies.txt");
      continue;
    }
    std::ifstream in(entry.path());
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      std::smatch m;
      if (!std::regex_search(line, m, include)) continue;
      ++checked;
      const std::string target = m[1];
      if (target == component || allowed->second.contains(target)) continue;
      violations.push_back(fs::relative(entry.path(), src).string() + ":" + std::to_string(n) +
                           ": " + component + " may not include " + target + "/");
    }
  }
  EXPECT_GT(checked, 100u) << "the scan found almost no includes: is the pattern right?";
  for (const std::string& v : violations) ADD_FAILURE() << v;
}

TEST(IncludeRules, TheAllowedEdgesFormNoCycle) {
  const Rules rules = ReadRules(SourceDir() / "src" / "dependencies.txt");
  ASSERT_GE(rules.size(), 10u);
  for (const auto& [component, deps] : rules) {
    std::set<std::string> seen;
    EXPECT_FALSE(Reaches(rules, component, component, seen)) << component << " depends on itself";
    for (const std::string& d : deps) EXPECT_TRUE(rules.contains(d)) << component << " -> " << d;
  }
}

TEST(IncludeRules, EveryFolderOfSrcIsAComponentWithRules) {
  const fs::path src = SourceDir() / "src";
  const Rules rules = ReadRules(src / "dependencies.txt");
  ASSERT_GE(rules.size(), 10u);
  for (const auto& entry : fs::directory_iterator(src)) {
    if (!entry.is_directory()) continue;
    EXPECT_TRUE(rules.contains(entry.path().filename().string())) << entry.path();
  }
}

}  // namespace
}  // namespace keycache
