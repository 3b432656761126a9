#include "support/redis_config_rewrite.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string_view>

namespace keycache::testing {
namespace {

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Sentinel options that take a master name after the option.
const std::set<std::string>& PerMasterOptions() {
  static const std::set<std::string> kOptions = {"monitor",
                                                 "down-after-milliseconds",
                                                 "failover-timeout",
                                                 "parallel-syncs",
                                                 "auth-pass",
                                                 "auth-user",
                                                 "notification-script",
                                                 "client-reconfig-script",
                                                 "rename-command",
                                                 "config-epoch",
                                                 "leader-epoch",
                                                 "known-replica",
                                                 "known-sentinel",
                                                 "master-reboot-down-after-period"};
  return kOptions;
}

}  // namespace

std::string DirectiveKey(const std::string& line) {
  const auto w = Words(line);
  if (w.empty() || w[0][0] == '#') return "";
  std::size_t n = 1;
  const std::string first = Lower(w[0]);
  if (first == "rename-command" || first == "user") n = 2;
  if (first == "sentinel" && w.size() > 1) {
    const std::string option = Lower(w[1]);
    n = PerMasterOptions().contains(option) ? 3 : 2;
    if (option == "rename-command") n = 4;  // sentinel rename-command <master> <command>
  }
  std::string key;
  for (std::size_t i = 0; i < std::min(n, w.size()); ++i) key += (i ? " " : "") + Lower(w[i]);
  return key;
}

std::string RewriteRedisConfig(const std::string& text, const std::vector<std::string>& overrides) {
  std::map<std::string, std::string> pending;  // key -> replacement line, until used
  std::vector<std::string> order;
  for (const auto& line : overrides) {
    const std::string key = DirectiveKey(line);
    if (!pending.contains(key)) order.push_back(key);
    pending[key] = line;
  }
  std::set<std::string> done;
  std::ostringstream out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const std::string key = DirectiveKey(line);
    if (done.contains(key)) {  // a later occurrence of a rewritten directive
      out << "# superseded by the test harness: " << line << "\n";
      continue;
    }
    const auto it = pending.find(key);
    if (it == pending.end()) {
      out << line << "\n";
      continue;
    }
    out << "# rewritten by the test harness: " << line << "\n" << it->second << "\n";
    pending.erase(it);
    done.insert(key);
  }
  bool header = false;
  for (const auto& key : order) {
    const auto it = pending.find(key);
    if (it == pending.end()) continue;
    if (!header) out << "\n# added by the test harness\n";
    header = true;
    out << it->second << "\n";
  }
  return out.str();
}

std::string DirectiveValue(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (DirectiveKey(line) != Lower(key)) continue;
    const auto w = Words(line);
    return w.empty() ? "" : w.back();
  }
  return "";
}

namespace {

// The words of user `user`'s line in an ACL file's text (empty when absent).
std::vector<std::string> AclUserLine(const std::string& acl_text, const std::string& user) {
  std::istringstream in(acl_text);
  std::string line;
  while (std::getline(in, line)) {
    auto w = Words(line);
    if (w.size() >= 2 && w[0] == "user" && w[1] == user) return w;
  }
  return {};
}

}  // namespace

std::string AclPassword(const std::string& acl_text, const std::string& user) {
  for (const auto& word : AclUserLine(acl_text, user)) {
    if (word.size() > 1 && word[0] == '>') return word.substr(1);
  }
  return "";
}

std::string AclRules(const std::string& acl_text, const std::string& user) {
  const auto w = AclUserLine(acl_text, user);
  std::string rules;
  for (std::size_t i = 2; i < w.size(); ++i) {
    const std::string& word = w[i];
    const bool credential =
        !word.empty() && std::string_view("><#!").find(word[0]) != std::string_view::npos;
    if (credential || word == "on" || word == "off" || word == "nopass" || word == "resetpass") {
      continue;
    }
    rules += (rules.empty() ? "" : " ") + word;
  }
  return rules;
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace keycache::testing
