#include "model/model_oracle.h"

#include <algorithm>

namespace keycache::testing::model {
namespace {

struct Sides {
  std::string_view resource, action;
};

std::optional<Sides> Split(std::string_view scope) {
  if (scope == "*") return Sides{"*", "*"};
  const std::size_t colon = scope.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return Sides{scope.substr(0, colon), scope.substr(colon + 1)};
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::string Join(const std::set<std::string_view>& codes) {
  std::string s;
  for (auto c : codes) s += (s.empty() ? "" : "|") + std::string(c);
  return s.empty() ? "(nothing)" : s;
}

}  // namespace

bool ScopeCovers(std::string_view granted, std::string_view required) {
  const auto g = Split(granted), r = Split(required);
  if (!g || !r) return granted == required;
  auto covers = [](std::string_view gs, std::string_view rs) { return gs == "*" || gs == rs; };
  return covers(g->resource, r->resource) && covers(g->action, r->action);
}

std::string_view Decide(const KeyState& state, Ms now, const std::vector<std::string>& required) {
  if (!state.exists) return kNotFound;
  if (state.revoked_at <= now) return kRevoked;
  if (!state.enabled) return kDisabled;
  if (state.expires_at <= now) return kExpired;
  for (const auto& need : required) {
    const bool met = std::any_of(state.scopes.begin(), state.scopes.end(),
                                 [&](const std::string& g) { return ScopeCovers(g, need); });
    if (!met) return kInsufficientScope;
  }
  return kValid;
}

std::set<std::string_view> PossibleCodes(const KeyState& state, Ms from, Ms to,
                                         const std::vector<std::string>& required) {
  std::vector<Ms> points = {from, to};
  for (Ms t : {state.revoked_at, state.expires_at}) {
    if (t != kNever && t > from && t <= to) {
      points.push_back(t - 1);  // just before the transition ...
      points.push_back(t);      // ... and at it
    }
  }
  std::set<std::string_view> codes;
  for (Ms t : points) codes.insert(Decide(state, t, required));
  return codes;
}

KeyHistory::KeyHistory() {
  Version absent;
  absent.what = "(before creation)";
  versions_.push_back(std::move(absent));
}

void KeyHistory::Acked(KeyState state, Ms sent_at, Ms acked_at, std::string what,
                       std::string fault) {
  Version v;
  v.state = std::move(state);
  v.sent_at = sent_at;
  v.acked_at = acked_at;
  v.status = Version::Status::kAcked;
  v.what = std::move(what);
  v.fault = std::move(fault);
  versions_.push_back(std::move(v));
}

void KeyHistory::Ambiguous(KeyState state, Ms sent_at, std::string what) {
  Version v;
  v.state = std::move(state);
  v.sent_at = sent_at;
  v.acked_at = kNever;
  v.status = Version::Status::kAmbiguous;
  v.what = std::move(what);
  versions_.push_back(std::move(v));
}

void KeyHistory::Acknowledge(KeyState state, Ms acked_at, std::string fault) {
  Version& v = versions_.back();
  v.state = std::move(state);
  v.acked_at = acked_at;
  v.status = Version::Status::kAcked;
  v.fault = std::move(fault);
}

const KeyState& KeyHistory::latest() const {
  for (auto it = versions_.rbegin(); it != versions_.rend(); ++it) {
    if (it->status != Version::Status::kVoid) return it->state;
  }
  return versions_.front().state;  // the absent version is never void
}

bool KeyHistory::unresolved() const {
  return versions_.back().status == Version::Status::kAmbiguous;
}

void KeyHistory::Resolve(const KeyState& read_back, Ms now) {
  if (!unresolved()) return;
  Version& v = versions_.back();
  const KeyState* before = nullptr;
  for (std::size_t j = versions_.size() - 1; j-- > 0;) {
    if (versions_[j].status != Version::Status::kVoid) {
      before = &versions_[j].state;
      break;
    }
  }
  if (before != nullptr && *before == read_back) {
    v.status = Version::Status::kVoid;
    v.what += " (did not take effect)";
    return;
  }
  v.state = read_back;
  v.status = Version::Status::kAcked;
  v.acked_at = now;
  v.what += " (took effect; resolved)";
}

Judgement KeyHistory::Judge(const Answer& answer, Ms s, Ms r,
                            const std::vector<std::string>& required, Ms bound,
                            Ms time_slack) const {
  // The newest version that must be in force for a request sent at s.
  std::size_t lowest = 0;
  for (std::size_t j = 0; j < versions_.size(); ++j) {
    const Version& v = versions_[j];
    if (v.status == Version::Status::kAcked && v.acked_at <= s - bound) lowest = j;
  }
  Judgement out;
  std::optional<std::size_t> newest_allowed, newest_any;
  for (std::size_t j = 0; j < versions_.size(); ++j) {
    const Version& v = versions_[j];
    if (v.status == Version::Status::kVoid || v.sent_at >= r) continue;
    const auto codes = PossibleCodes(v.state, s - time_slack, r + time_slack, required);
    if (j >= lowest) {
      out.expected += (out.expected.empty() ? "" : "; ") + v.what + ": " + Join(codes);
      if (answer.scopes && v.state.exists) {
        std::string scopes;
        for (const auto& sc : Sorted(v.state.scopes)) scopes += (scopes.empty() ? "" : ",") + sc;
        out.expected += " scopes=[" + scopes + "]";
      }
    }
    if (codes.count(answer.code) == 0) continue;
    if (answer.scopes && (!v.state.exists || Sorted(*answer.scopes) != Sorted(v.state.scopes))) {
      continue;
    }
    newest_any = j;
    if (j >= lowest) newest_allowed = j;
  }
  out.allowed = newest_allowed.has_value();
  // How old the state the answer showed was: the oldest acknowledged change it missed.
  if (newest_any) {
    for (std::size_t j = *newest_any + 1; j < versions_.size(); ++j) {
      const Version& v = versions_[j];
      if (v.status != Version::Status::kAcked || v.acked_at >= s) continue;
      if (!out.staleness || s - v.acked_at > *out.staleness) {
        out.staleness = s - v.acked_at;
        out.stale_fault = v.fault;
      }
    }
  }
  return out;
}

}  // namespace keycache::testing::model
