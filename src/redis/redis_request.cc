#include "redis/redis_request.h"

#include <charconv>

namespace keycache {

namespace {

void AppendHeader(std::string& out, char kind, std::size_t n) {
  char digits[24];
  digits[0] = kind;
  auto [end, ec] = std::to_chars(digits + 1, digits + sizeof digits - 2, n);
  *end++ = '\r';
  *end++ = '\n';
  out.append(digits, end);
}

}  // namespace

void RedisRequest::Begin(std::size_t argc) {
  AppendHeader(payload_, '*', argc);
  ++commands_;
}

void RedisRequest::Append(std::string_view arg) {
  AppendHeader(payload_, '$', arg.size());
  payload_.append(arg);
  payload_.append("\r\n");
}

RedisRequest& RedisRequest::Push(std::initializer_list<std::string_view> args) {
  if (args.size() == 0) return *this;
  Begin(args.size());
  for (std::string_view a : args) Append(a);
  return *this;
}

RedisRequest& RedisRequest::Push(std::span<const std::string_view> args) {
  if (args.empty()) return *this;
  Begin(args.size());
  for (std::string_view a : args) Append(a);
  return *this;
}

}  // namespace keycache
