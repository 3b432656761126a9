// The parts of ModelDriver that its two source files share (model_driver.cc: threads, key
// selection, read-back, sweep, usage, reports; model_operations.cc: the requests and their
// judgement): tuning constants, record parsing, and the per-key and per-thread state. Guarded
// by ModelDriver::mu_ like the rest of the model, except Client (one per thread).
#pragma once

#include <algorithm>
#include <boost/json/object.hpp>
#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "model/model_driver.h"
#include "util/time_format.h"

namespace keycache::testing::model::driver_detail {

inline constexpr std::string_view kPrefix = "ak";
// Shorter than a stalled dependency (REDIS_COMMAND_TIMEOUT and KEYCACHE_DB_TIMEOUT are 5 s), so
// that a client whose request hangs on a fault moves on and keeps probing the instance's cache;
// an unanswered verification is excused only inside a fault window.
inline constexpr std::chrono::milliseconds kVerifyTimeout{3'000};
// Probers give up sooner still: a cache hit answers in milliseconds, and a prober stuck on a
// miss is not probing. Their unanswered requests are not violations (the clients' are).
inline constexpr std::chrono::milliseconds kProbeTimeout{1'000};
inline constexpr int kProbersPerInstance = 2;
inline constexpr Ms kProbeWindow = 8'000;  // longer than a silent cut plus the time to notice it
inline constexpr std::size_t kKeptViolations = 30;  // reported in full, at most
inline constexpr std::int64_t kKeptPerFault = 5;
inline constexpr std::size_t kKeptVerifications = 25;
inline constexpr std::size_t kInstanceLogLines = 30;
inline constexpr Ms kRecentChange = 5'000;
inline constexpr std::size_t kTargetActiveKeys = 40;
inline constexpr int kPopulateThread = 1000, kSweepThread = 1001;  // ids in logs
// Deleted, revoked and expired keys stay in the verification mix this long, then only rarely.
inline constexpr Ms kRetireAfter = 10'000;
// An ambiguous change is read back only once a request stuck behind a lock has certainly
// finished (KEYCACHE_DB_TIMEOUT and SQLite's busy_timeout are 5 s).
inline constexpr Ms kResolveAfter = 6'500;

inline const std::vector<std::string> kGranted = {
    "users:read", "users:write", "reports:read", "reports:*", "*:read", "billing:admin", "*"};
inline const std::vector<std::string> kRequired = {
    "users:read", "users:write", "reports:read", "reports:export", "billing:admin", "audit:read"};

inline std::vector<std::string> Strings(const boost::json::value* v) {
  std::vector<std::string> out;
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& s : v->as_array()) {
    if (s.is_string()) out.emplace_back(s.as_string());
  }
  return out;
}

inline Ms TimeOrNever(const boost::json::object& o, std::string_view member) {
  const auto* v = o.if_contains(member);
  if (v == nullptr || !v->is_string()) return kNever;
  const auto t = ParseRfc3339(v->as_string());
  return t ? *t : kNever;
}

inline KeyState StateFromRecord(const boost::json::object& record) {
  KeyState s;
  s.exists = true;
  s.scopes = Strings(record.if_contains("scopes"));
  std::sort(s.scopes.begin(), s.scopes.end());  // the model keeps scope lists sorted
  const auto* enabled = record.if_contains("enabled");
  s.enabled = enabled == nullptr || !enabled->is_bool() || enabled->as_bool();
  s.expires_at = TimeOrNever(record, "expires_at");
  s.revoked_at = TimeOrNever(record, "revoked_at");
  return s;
}

// "revoked_at: never -> 2026-...Z; enabled: true -> false": the fields in which two states differ.
inline std::string Diff(const KeyState& a, const KeyState& b) {
  auto time = [](Ms t) { return t == kNever ? std::string("never") : FormatRfc3339(t); };
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return "[" + s + "]";
  };
  std::string out;
  auto add = [&out](const std::string& field, const std::string& x, const std::string& y) {
    if (x != y) out += (out.empty() ? "" : "; ") + field + ": " + x + " -> " + y;
  };
  add("exists", a.exists ? "true" : "false", b.exists ? "true" : "false");
  add("scopes", list(a.scopes), list(b.scopes));
  add("enabled", a.enabled ? "true" : "false", b.enabled ? "true" : "false");
  add("expires_at", time(a.expires_at), time(b.expires_at));
  add("revoked_at", time(a.revoked_at), time(b.revoked_at));
  return out;
}

inline const boost::json::object* RecordOf(const Reply& reply) {
  const auto* r = reply.Object().if_contains("record");
  return r != nullptr && r->is_object() ? &r->as_object() : nullptr;
}

inline std::string Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return "[" + s + "]";
}

inline std::string Brief(const Reply& r) {
  if (r.status == 0) return "no answer (" + r.body + ")";
  // An error's body whole (its reason names the failed step); a record's first 160 characters.
  std::string body = r.body.substr(0, r.status >= 400 ? 1000 : 160);
  std::replace(body.begin(), body.end(), '\n', ' ');
  return std::to_string(r.status) + " " + body;
}

inline bool Unanswered(const Reply& r) { return r.status == 0 || r.status >= 500; }

inline std::string StatusName(int status) {
  if (status > 128)
    return std::to_string(status) + " (signal " + std::to_string(status - 128) + ")";
  return std::to_string(status);
}

}  // namespace keycache::testing::model::driver_detail

namespace keycache::testing::model {

struct ModelDriver::ModelKey {
  std::string id, key, owner, wrong_secret;
  KeyHistory history;
  bool busy = false;
  bool retired = false;  // deleted, revoked or expired for a while: rarely verified
  Ms last_change = 0;
  int last_change_instance = -1;
  // By instance: when it last answered for the key, and whether it had answered since the
  // change before the last one (so probably still caches the state before the last change).
  std::vector<Ms> seen_on = std::vector<Ms>(8, 0);
  std::vector<bool> cached_when_changed = std::vector<bool>(8, false);
  std::vector<std::string> changes;
  std::deque<std::string> verifications;  // the last kKeptVerifications
  std::vector<std::string> after_change;  // the first kKeptVerifications after the last change

  void AddVerification(std::string line) {
    if (after_change.size() < driver_detail::kKeptVerifications) after_change.push_back(line);
    verifications.push_back(std::move(line));
    if (verifications.size() > driver_detail::kKeptVerifications) verifications.pop_front();
  }
  void Changed() { after_change.clear(); }
  std::int64_t valid_seen = 0, valid_unknown = 0;

  std::string LogText() const {
    std::string s = "  operation log of key " + id + " (owner " + owner + "):\n";
    for (const auto& line : changes) s += "    " + line + "\n";
    s += "  the first verifications after its last change:\n";
    for (const auto& line : after_change) s += "    " + line + "\n";
    s += "  its last " + std::to_string(verifications.size()) + " verifications:\n";
    for (const auto& line : verifications) s += "    " + line + "\n";
    return s;
  }
};

struct ModelDriver::Forged {
  std::string key, id;
  std::vector<std::string> first;  // its first kKeptVerifications verifications
  std::deque<std::string> last;    // and its last ones

  void Add(std::string line) {
    if (first.size() < driver_detail::kKeptVerifications) first.push_back(line);
    last.push_back(std::move(line));
    if (last.size() > driver_detail::kKeptVerifications) last.pop_front();
  }
};

struct ModelDriver::Outcome {
  unsigned status = 0;
  std::string code;
  std::string key_id;
  std::optional<std::vector<std::string>> scopes;
};

class ModelDriver::Client {
 public:
  Client(ModelInstances& cluster, int thread, std::uint64_t seed) : thread(thread), rng(seed) {
    for (int i = 0; i < cluster.size(); ++i) apis.push_back(cluster.Client(i));
  }
  ApiClient& api() { return *apis[static_cast<std::size_t>(instance)]; }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

  const int thread;
  std::mt19937_64 rng;
  std::vector<std::unique_ptr<ApiClient>> apis;
  int instance = 0;
};

}  // namespace keycache::testing::model
