// ApiClient: keycache::HttpClient plus what integration tests want from each answer (the body
// parsed as JSON, headers by name, a one-line description for failure messages) and the admin
// bearer token. Reply: one answer. Not thread-safe (one keep-alive connection).
#pragma once

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "http/http_client.h"

namespace keycache::testing {

namespace http = boost::beast::http;

struct Reply {
  unsigned status = 0;  // 0: no HTTP answer; `body` then holds the transport error
  std::string body;
  boost::beast::http::fields headers;
  boost::json::value json;  // the parsed body; null when it is not JSON

  bool HasHeader(std::string_view name) const;
  std::string Header(std::string_view name) const;  // "" when absent
  // The body's JSON object, or an empty object.
  const boost::json::object& Object() const;
  // A top-level string member, or "" when absent or not a string.
  std::string Str(std::string_view member) const;
  // "STATUS BODY" (body cut at 2000 characters), for assertion messages.
  std::string Describe() const;
};

class ApiClient {
 public:
  using Headers = HttpClient::Headers;

  explicit ApiClient(std::uint16_t port, std::string admin_token = {});
  ApiClient(std::string host, std::uint16_t port, std::string admin_token = {});

  // One request without credentials (unless `headers` carry them).
  Reply Send(http::verb method, std::string target, std::string body = {}, Headers headers = {},
             std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // The same with "Authorization: Bearer <admin token>".
  Reply Admin(http::verb method, std::string target, std::string body = {}, Headers headers = {});

  // On a connection of its own: writes `bytes` as they are and returns everything received
  // until the server closes; "" when it closed without answering. Transport errors other than
  // a close or reset come back as "<error: ...>".
  std::string Raw(std::string bytes, std::chrono::milliseconds timeout = std::chrono::seconds(15));

  const std::string& admin_token() const { return admin_token_; }
  void set_admin_token(std::string token) { admin_token_ = std::move(token); }
  HttpClient& http_client() { return client_; }

 private:
  HttpClient client_;
  std::string admin_token_;
};

// The status code of the first response in raw bytes ("HTTP/1.1 413 ..."), or 0 when there is
// none; `body` (optional) receives what follows the first blank line.
unsigned RawStatus(std::string_view bytes, std::string* body = nullptr);

// The JSON value at a path of object members ("cache", "breakdown"); nullptr when absent.
const boost::json::value* Member(const boost::json::value& root,
                                 std::initializer_list<std::string_view> path);

}  // namespace keycache::testing
