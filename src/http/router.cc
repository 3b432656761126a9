#include "http/router.h"

#include <algorithm>
#include <utility>

namespace keycache {

namespace beast_http = boost::beast::http;

namespace {

// Splits "/a/b/c" into {"a","b","c"}; "/" gives {""}. False when the path does not start with
// '/' (absolute-form or "*" targets never match a route) or has too many segments.
bool SplitPath(std::string_view path, std::array<std::string_view, Router::kMaxSegments>& out,
               std::size_t& count) {
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  count = 0;
  for (;;) {
    if (count == out.size()) return false;
    std::size_t slash = path.find('/');
    out[count++] = path.substr(0, slash);
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

Result<void> Router::Add(beast_http::verb method, std::string_view pattern, Handler handler) {
  if (!handler) return Errc::kBadInput;
  return AddAny(method, pattern, AnyHandler(std::in_place_type<Handler>, std::move(handler)));
}

Result<void> Router::AddSync(beast_http::verb method, std::string_view pattern,
                             SyncHandler handler) {
  if (!handler) return Errc::kBadInput;
  return AddAny(method, pattern, AnyHandler(std::in_place_type<SyncHandler>, std::move(handler)));
}

Result<void> Router::AddFastPath(beast_http::verb method, std::string_view pattern,
                                 FastPathHandler handler) {
  if (!handler.fast) return Errc::kBadInput;
  return AddAny(method, pattern,
                AnyHandler(std::in_place_type<FastPathHandler>, std::move(handler)));
}

Result<void> Router::AddAny(beast_http::verb method, std::string_view pattern, AnyHandler handler) {
  if (method == beast_http::verb::unknown) return Errc::kBadInput;
  std::array<std::string_view, kMaxSegments> parts;
  std::size_t count = 0;
  if (!SplitPath(pattern, parts, count)) return Errc::kBadInput;

  Route route;
  route.pattern = std::string(pattern);
  for (std::size_t i = 0; i < count; ++i) {
    std::string_view part = parts[i];
    route.shape.push_back('/');
    if (part == "*") {
      if (i + 1 != count) return Errc::kBadInput;
      route.segments.push_back({std::string(), SegmentKind::kRest});
      route.shape.append("*");
    } else if (!part.empty() && part.front() == '{') {
      if (part.size() < 3 || part.back() != '}') return Errc::kBadInput;
      std::string_view name = part.substr(1, part.size() - 2);
      if (!std::all_of(name.begin(), name.end(), IsNameChar)) return Errc::kBadInput;
      if (std::find(route.param_names.begin(), route.param_names.end(), name) !=
          route.param_names.end()) {
        return Errc::kBadInput;
      }
      if (route.param_names.size() == kMaxParams) return Errc::kBadInput;
      route.param_names.emplace_back(name);
      route.segments.push_back({std::string(), SegmentKind::kParam});
      route.shape.append("{}");
    } else {
      if (part.find_first_of("{}*") != std::string_view::npos) return Errc::kBadInput;
      route.segments.push_back({std::string(part), SegmentKind::kLiteral});
      route.shape.append(part);
    }
  }

  for (Route& existing : routes_) {
    if (existing.shape != route.shape) continue;
    if (existing.pattern != route.pattern) return Errc::kConflict;
    for (const MethodEntry& entry : existing.methods) {
      if (entry.method == method) return Errc::kConflict;
    }
    existing.methods.push_back({method, std::move(handler)});
    return {};
  }

  const bool all_literal =
      std::all_of(route.segments.begin(), route.segments.end(),
                  [](const Segment& seg) { return seg.kind == SegmentKind::kLiteral; });
  route.methods.push_back({method, std::move(handler)});
  routes_.push_back(std::move(route));
  const int index = static_cast<int>(routes_.size() - 1);
  if (all_literal) literal_routes_.emplace(routes_.back().pattern, index);
  by_specificity_.push_back(index);
  std::stable_sort(by_specificity_.begin(), by_specificity_.end(),
                   [this](int a, int b) { return MoreSpecific(routes_[a], routes_[b]); });
  return {};
}

// Lexicographic over segment kinds: literal, then parameter, then "*". Patterns that agree on
// every kind up to the shorter one's length never match the same path (a "*" needs at least one
// more segment than its position; otherwise the lengths must be equal), so the length tie-break
// merely keeps this a strict weak ordering.
bool Router::MoreSpecific(const Route& a, const Route& b) {
  std::size_t n = std::min(a.segments.size(), b.segments.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (a.segments[i].kind != b.segments[i].kind) return a.segments[i].kind < b.segments[i].kind;
  }
  return a.segments.size() < b.segments.size();
}

bool Router::Matches(const Route& route, std::span<const std::string_view> segments) {
  const bool rest = !route.segments.empty() && route.segments.back().kind == SegmentKind::kRest;
  const std::size_t fixed = rest ? route.segments.size() - 1 : route.segments.size();
  if (rest ? segments.size() <= fixed : segments.size() != fixed) return false;
  for (std::size_t i = 0; i < fixed; ++i) {
    const Segment& seg = route.segments[i];
    if (seg.kind == SegmentKind::kParam ? segments[i].empty() : seg.literal != segments[i]) {
      return false;
    }
  }
  return true;
}

Router::Match Router::Find(beast_http::verb method, std::string_view path,
                           ParamArray& params) const {
  Match match;
  // A path spelled exactly as an all-literal pattern: that pattern is the most specific match
  // (literals win at every position, and no other pattern has the same literals), so when it
  // has the method nothing else need be compared. Without the method, a less specific pattern
  // may have it: the general search below decides.
  if (auto exact = literal_routes_.find(path); exact != literal_routes_.end()) {
    for (const MethodEntry& entry : routes_[exact->second].methods) {
      if (entry.method != method) continue;
      match.kind = MatchKind::kFound;
      match.route = exact->second;
      match.handler = &entry.handler;
      return match;
    }
  }
  std::array<std::string_view, kMaxSegments> parts;
  std::size_t count = 0;
  if (!SplitPath(path, parts, count)) return match;
  std::span<const std::string_view> segments(parts.data(), count);

  for (int index : by_specificity_) {
    const Route& route = routes_[index];
    if (!Matches(route, segments)) continue;
    if (match.route == kNoRoute) match.route = index;
    for (const MethodEntry& entry : route.methods) {
      if (entry.method != method) continue;
      match.kind = MatchKind::kFound;
      match.route = index;
      match.handler = &entry.handler;
      for (std::size_t i = 0; i < route.segments.size() && i < count; ++i) {
        if (route.segments[i].kind == SegmentKind::kParam) {
          params[match.param_count++] = segments[i];
        }
      }
      return match;
    }
  }
  if (match.route == kNoRoute) return match;

  // Cold path: collect the methods of every matching pattern for the Allow header.
  std::vector<beast_http::verb> allowed;
  for (const Route& route : routes_) {
    if (!Matches(route, segments)) continue;
    for (const MethodEntry& entry : route.methods) allowed.push_back(entry.method);
  }
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  for (beast_http::verb v : allowed) {
    if (!match.allow.empty()) match.allow.append(", ");
    match.allow.append(beast_http::to_string(v));
  }
  match.kind = MatchKind::kMethodNotAllowed;
  return match;
}

std::string_view Router::pattern(int route) const {
  if (route < 0 || static_cast<std::size_t>(route) >= routes_.size()) return {};
  return routes_[route].pattern;
}

std::span<const std::string> Router::param_names(int route) const {
  if (route < 0 || static_cast<std::size_t>(route) >= routes_.size()) return {};
  return routes_[route].param_names;
}

}  // namespace keycache
