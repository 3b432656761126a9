// RedisReply: one parsed RESP2 reply (nested for arrays). A plain value type with no
// synchronisation; copy or move it freely between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keycache {

struct RedisReply {
  enum class Type : std::uint8_t { kNil, kString, kStatus, kError, kInteger, kArray };

  Type type = Type::kNil;
  std::string str;                   // kString, kStatus, kError
  long long integer = 0;             // kInteger
  std::vector<RedisReply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
  bool is_string() const { return type == Type::kString; }
  bool is_status() const { return type == Type::kStatus; }
  bool is_integer() const { return type == Type::kInteger; }
  bool is_array() const { return type == Type::kArray; }
  // kStatus "OK".
  bool is_ok() const { return type == Type::kStatus && str == "OK"; }
  // The text of a string, status or error reply; "" otherwise.
  std::string_view text() const {
    return type == Type::kString || type == Type::kStatus || type == Type::kError
               ? std::string_view(str)
               : std::string_view();
  }

  static RedisReply Nil() { return {}; }
  static RedisReply String(std::string s) { return Make(Type::kString, std::move(s)); }
  static RedisReply Status(std::string s) { return Make(Type::kStatus, std::move(s)); }
  static RedisReply Error(std::string s) { return Make(Type::kError, std::move(s)); }
  static RedisReply Integer(long long n) {
    RedisReply r;
    r.type = Type::kInteger;
    r.integer = n;
    return r;
  }
  static RedisReply Array(std::vector<RedisReply> items) {
    RedisReply r;
    r.type = Type::kArray;
    r.elements = std::move(items);
    return r;
  }

  friend bool operator==(const RedisReply&, const RedisReply&) = default;

 private:
  static RedisReply Make(Type t, std::string s) {
    RedisReply r;
    r.type = t;
    r.str = std::move(s);
    return r;
  }
};

}  // namespace keycache
