#include "support/api_client.h"

#include <boost/json/parse.hpp>

namespace keycache::testing {

bool Reply::HasHeader(std::string_view name) const { return headers.find(name) != headers.end(); }

std::string Reply::Header(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : std::string(it->value());
}

const boost::json::object& Reply::Object() const {
  static const boost::json::object kEmpty;  // immutable: safe to share
  return json.is_object() ? json.as_object() : kEmpty;
}

std::string Reply::Str(std::string_view member) const {
  const auto* v = Object().if_contains(member);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string Reply::Describe() const {
  constexpr std::size_t kMaxShown = 2000;
  std::string text = std::to_string(status) + " " + body.substr(0, kMaxShown);
  if (body.size() > kMaxShown) text += "...";
  return text;
}

ApiClient::ApiClient(std::uint16_t port, std::string admin_token)
    : ApiClient("127.0.0.1", port, std::move(admin_token)) {}

ApiClient::ApiClient(std::string host, std::uint16_t port, std::string admin_token)
    : client_(std::move(host), port), admin_token_(std::move(admin_token)) {}

Reply ApiClient::Send(http::verb method, std::string target, std::string body, Headers headers,
                      std::chrono::milliseconds timeout) {
  Reply reply;
  auto res = client_.Send(method, std::move(target), std::move(body), std::move(headers), timeout);
  if (!res) {
    reply.body = "transport error: " + res.error().message();
    return reply;
  }
  reply.status = res->status;
  reply.body = std::move(res->body);
  reply.headers = std::move(res->headers);
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(reply.body, ec);
  if (!ec) reply.json = std::move(parsed);
  return reply;
}

Reply ApiClient::Admin(http::verb method, std::string target, std::string body, Headers headers) {
  headers.emplace_back("Authorization", "Bearer " + admin_token_);
  return Send(method, std::move(target), std::move(body), std::move(headers));
}

std::string ApiClient::Raw(std::string bytes, std::chrono::milliseconds timeout) {
  auto received = client_.SendRaw(std::move(bytes), timeout);
  if (!received) return "<error: " + received.error().message() + ">";
  return std::move(*received);
}

unsigned RawStatus(std::string_view bytes, std::string* body) {
  constexpr std::string_view kVersion = "HTTP/1.";
  if (!bytes.starts_with(kVersion) || bytes.size() < kVersion.size() + 5) return 0;
  const std::string_view code = bytes.substr(kVersion.size() + 2, 3);
  unsigned status = 0;
  for (char c : code) {
    if (c < '0' || c > '9') return 0;
    status = status * 10 + static_cast<unsigned>(c - '0');
  }
  if (body != nullptr) {
    const std::size_t end = bytes.find("\r\n\r\n");
    *body = end == std::string_view::npos ? std::string() : std::string(bytes.substr(end + 4));
  }
  return status;
}

const boost::json::value* Member(const boost::json::value& root,
                                 std::initializer_list<std::string_view> path) {
  const boost::json::value* v = &root;
  for (std::string_view name : path) {
    if (!v->is_object()) return nullptr;
    v = v->as_object().if_contains(name);
    if (v == nullptr) return nullptr;
  }
  return v;
}

}  // namespace keycache::testing
