// RespParser: a sans-I/O RESP2 reply parser (hiredis's reader underneath). Feed bytes in any
// chunking, take complete replies out in order. Not thread-safe: one owner at a time.
#pragma once

#include <optional>
#include <string_view>

#include "redis/resp_reply.h"
#include "util/error.h"

struct redisReader;

namespace keycache {

class RespParser {
 public:
  RespParser();
  ~RespParser();
  RespParser(const RespParser&) = delete;
  RespParser& operator=(const RespParser&) = delete;

  void Feed(std::string_view bytes);
  // nullopt: need more bytes. Errc::kBadInput on a protocol error; the parser is unusable
  // afterwards (every later call fails too).
  Result<std::optional<RedisReply>> Next();

  // The reader's message for the protocol error, "" when there was none.
  std::string_view error() const;

 private:
  redisReader* reader_;
  RedisReply root_;  // hiredis builds the reply being parsed here (see resp_parser.cc)
  bool failed_ = false;
};

}  // namespace keycache
