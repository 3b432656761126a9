// Vocabulary types shared by the router, the server and route handlers: the request/response
// message types, the per-request context a handler receives, and the per-request observation the
// server reports for metrics and access logs. Plain data; a RequestContext is only valid for the
// duration of the handler call it was passed to.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace keycache {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// What a route handler sees. Everything here points into the session's request or the router's
// route table, so it costs nothing to build and must not be kept after the handler returns.
struct RequestContext {
  Request& req;
  boost::asio::ip::address peer;
  std::string_view path;   // request target before '?', not percent-decoded
  std::string_view query;  // request target after '?' (without it), not percent-decoded
  // Path parameter values in the order they appear in the route pattern, and their names.
  // Values are raw path segments (not percent-decoded) and never empty.
  std::span<const std::string_view> params;
  std::span<const std::string> param_names;

  std::string_view Param(std::size_t index) const {
    return index < params.size() ? params[index] : std::string_view();
  }
  // A linear scan over at most Router::kMaxParams names; "" when the route has no such parameter.
  std::string_view Param(std::string_view name) const {
    for (std::size_t i = 0; i < param_names.size() && i < params.size(); ++i) {
      if (param_names[i] == name) return params[i];
    }
    return {};
  }

  // `peer` as text, formatted once per connection by the server; "" when whoever built the
  // context did not fill it (then format `peer`). Last, so positional initialisers stay valid.
  std::string_view peer_text = {};
};

// A route handler. The session is itself a coroutine, so the two kinds differ only in cost:
// a SyncHandler is a plain call from the session's frame (no handler coroutine frame, no
// suspension) and suits work that never waits, such as a verification answered from cache; a
// Handler may co_await (timers, other executors, I/O) and costs one coroutine frame per call.
// The session catches exceptions from both and answers 500.
using Handler = std::function<boost::asio::awaitable<Response>(RequestContext&)>;
using SyncHandler = std::function<Response(RequestContext&)>;

// A response in wire form, for answers a route sends thousands of times a second: a Response
// costs an allocation and a tree insertion per header, this costs one string for all of them.
// `head` holds header lines, each "Name: value\r\n" (http/plain_response.h appends them), and
// never Connection, Content-Length or Transfer-Encoding: the server writes the status line, those
// and the blank line, as it does for a Response, and drops the body of a HEAD answer.
struct PlainResponse {
  unsigned status = 200;  // three digits; the reason phrase is the standard one
  std::string head;
  std::string body;
};

// Both kinds at once, for routes that can usually answer without waiting (a cache hit): `fast`
// is a plain call that either answers (a Response, or a PlainResponse), or hands over the rest
// of the work as a coroutine that has not started yet (built from what `fast` parsed, and owning
// it: it must not refer to the RequestContext, which the session keeps alive only until the
// coroutine completes). The session awaits it on the connection's thread.
using FastPathResult = std::variant<Response, PlainResponse, boost::asio::awaitable<Response>>;
struct FastPathHandler {
  std::function<FastPathResult(RequestContext&)> fast;
};

// One finished request, reported after its response was written (or failed to be).
struct RequestObservation {
  boost::beast::http::verb method;  // verb::unknown when the request line could not be parsed
  // Index of the matched route pattern (stable, 0..Router::route_count()-1) or -1 when no route
  // matched or the session answered by itself (400, 408, 413, 431). With route_pattern this is
  // a bounded set, suitable as a metric label.
  int route;
  std::string_view route_pattern;  // "" when route == -1
  unsigned status;
  // From the read that completed the request (or detecting a bad one) to the end of writing the
  // response, so parsing is included; excludes idle keep-alive time and the client's upload time.
  std::chrono::nanoseconds duration;
  boost::asio::ip::address peer;  // for access logs only: never a metric label
  std::string_view target;        // raw request target, "" if unparsed; access logs only
  bool write_ok;                  // false when the response could not be written
};

// Called on server threads, concurrently from several threads: must be thread-safe and quick.
using RequestObserver = std::function<void(const RequestObservation&)>;

}  // namespace keycache
