// RedisRequest: a pipeline of commands, each encoded as a RESP array of bulk strings (binary
// safe). A plain value; not synchronised.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace keycache {

class RedisRequest {
 public:
  // A command with no arguments is ignored: Redis would send no reply for it.
  RedisRequest& Push(std::initializer_list<std::string_view> args);
  RedisRequest& Push(std::span<const std::string_view> args);

  std::size_t size() const { return commands_; }  // number of commands
  bool empty() const { return commands_ == 0; }
  const std::string& payload() const { return payload_; }  // the encoded bytes
  void Reserve(std::size_t bytes) { payload_.reserve(bytes); }
  void Clear() {
    payload_.clear();
    commands_ = 0;
  }

 private:
  void Begin(std::size_t argc);
  void Append(std::string_view arg);

  std::string payload_;
  std::size_t commands_ = 0;
};

}  // namespace keycache
