// Maps (method, path) to a route handler by comparing path segments against patterns such as
// "/v1/keys/{id}/rotate" (no regex). Built once at startup by Add/AddSync/AddFastPath; after that
// it is immutable and Find may be called from any number of threads at once.
//
// Matching: a pattern's segments are literals or "{name}" parameters; a parameter matches any one
// non-empty segment. A last segment "*" matches the rest of the path: one or more segments, of
// any content ("/v1/auth/*" matches "/v1/auth/", "/v1/auth/a/b"), and yields no parameter.
// Among the patterns that match a path, literal segments win over parameters, and parameters
// over "*", at the first position where two patterns differ ("/v1/keys/search" beats
// "/v1/keys/{id}"); the most specific pattern that has a handler for the method is chosen. If
// patterns match but none has the method, the result is 405 with the union of their methods for the
// Allow header. Trailing slashes are significant ("/v1/keys/" is not "/v1/keys").
#pragma once

#include <array>
#include <boost/beast/http/verb.hpp>
#include <cstddef>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "http/http_types.h"
#include "util/error.h"

namespace keycache {

class Router {
 public:
  static constexpr std::size_t kMaxParams = 8;
  static constexpr std::size_t kMaxSegments = 16;
  static constexpr int kNoRoute = -1;

  using AnyHandler = std::variant<SyncHandler, Handler, FastPathHandler>;
  using ParamArray = std::array<std::string_view, kMaxParams>;

  enum class MatchKind { kFound, kNotFound, kMethodNotAllowed };

  struct Match {
    MatchKind kind = MatchKind::kNotFound;
    int route = kNoRoute;                 // set for kFound and kMethodNotAllowed
    const AnyHandler* handler = nullptr;  // set for kFound
    std::size_t param_count = 0;          // values written to the caller's ParamArray (kFound)
    std::string allow;                    // "GET, POST" for kMethodNotAllowed, else empty
  };

  // Errors (Errc::kBadInput): pattern not starting with '/', more than kMaxSegments segments or
  // kMaxParams parameters, a malformed or duplicate "{name}", '{' or '}' inside a literal, '*'
  // anywhere but as the whole last segment.
  // Errc::kConflict: the same method on the same pattern twice, or a pattern that differs from
  // an existing one only by parameter names (the two could never be told apart).
  // Routes are wired once at startup; check the result there.
  Result<void> Add(boost::beast::http::verb method, std::string_view pattern, Handler handler);
  Result<void> AddSync(boost::beast::http::verb method, std::string_view pattern,
                       SyncHandler handler);
  // `fast` is required.
  Result<void> AddFastPath(boost::beast::http::verb method, std::string_view pattern,
                           FastPathHandler handler);

  // `path` is the request target without the query. On kFound, params[0..param_count) point
  // into `path`.
  Match Find(boost::beast::http::verb method, std::string_view path, ParamArray& params) const;

  // Route indexes are assigned in order of first Add per pattern and never change.
  std::size_t route_count() const { return routes_.size(); }
  std::string_view pattern(int route) const;
  std::span<const std::string> param_names(int route) const;

 private:
  enum class SegmentKind { kLiteral, kParam, kRest };  // in order of specificity
  struct Segment {
    std::string literal;  // empty for "{name}" and "*"
    SegmentKind kind = SegmentKind::kLiteral;
  };
  struct MethodEntry {
    boost::beast::http::verb method;
    AnyHandler handler;
  };
  struct Route {
    std::string pattern;
    std::string shape;  // pattern with parameter names erased, to detect ambiguity
    std::vector<Segment> segments;
    std::vector<std::string> param_names;
    std::vector<MethodEntry> methods;
  };

  Result<void> AddAny(boost::beast::http::verb method, std::string_view pattern,
                      AnyHandler handler);
  static bool Matches(const Route& route, std::span<const std::string_view> segments);
  static bool MoreSpecific(const Route& a, const Route& b);

  std::vector<Route> routes_;
  std::vector<int> by_specificity_;  // route indexes, most specific first
  // Patterns without parameters or "*", by their text: most requests name one exactly.
  std::map<std::string, int, std::less<>> literal_routes_;
};

}  // namespace keycache
