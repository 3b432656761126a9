// Fuzzes RespParser (redis/resp_parser.h). The input is parsed whole, byte by byte, and in
// chunks whose sizes the input picks. Properties: every chunking yields the same replies and
// fails (or not) after the same number of them; a failure is sticky (later bytes, even valid
// ones, never produce a reply) and explained by error(); and each reply, written back as RESP,
// parses to itself.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "redis/resp_parser.h"

namespace keycache {
namespace {

struct Outcome {
  std::vector<RedisReply> replies;
  bool failed = false;
};

// Drains every complete reply; after a failure checks that the parser stays failed.
void Drain(RespParser& parser, Outcome& out) {
  while (!out.failed) {
    Result<std::optional<RedisReply>> next = parser.Next();
    if (!next) {
      out.failed = true;
      FUZZ_CHECK(next.error() == Errc::kBadInput);
      FUZZ_CHECK(!parser.error().empty());
      break;
    }
    if (!*next) return;
    out.replies.push_back(std::move(**next));
  }
  parser.Feed("+OK\r\n");
  FUZZ_CHECK(!parser.Next());
}

// Feeds `bytes` in pieces of the given sizes (cycled; 0 means "the rest").
Outcome ParseInChunks(std::string_view bytes, const std::vector<std::size_t>& sizes) {
  RespParser parser;
  Outcome out;
  std::size_t i = 0;
  while (!bytes.empty() && !out.failed) {
    const std::size_t size = sizes.empty() ? 0 : sizes[i++ % sizes.size()];
    const std::size_t n = size == 0 ? bytes.size() : std::min(size, bytes.size());
    parser.Feed(bytes.substr(0, n));
    bytes.remove_prefix(n);
    Drain(parser, out);
  }
  if (!out.failed) Drain(parser, out);
  return out;
}

void Encode(const RedisReply& r, std::string& out) {
  switch (r.type) {
    case RedisReply::Type::kNil:
      out += "$-1\r\n";
      return;
    case RedisReply::Type::kString:
      out += "$" + std::to_string(r.str.size()) + "\r\n" + r.str + "\r\n";
      return;
    case RedisReply::Type::kStatus:
      out += "+" + r.str + "\r\n";
      return;
    case RedisReply::Type::kError:
      out += "-" + r.str + "\r\n";
      return;
    case RedisReply::Type::kInteger:
      out += ":" + std::to_string(r.integer) + "\r\n";
      return;
    case RedisReply::Type::kArray:
      out += "*" + std::to_string(r.elements.size()) + "\r\n";
      for (const RedisReply& e : r.elements) Encode(e, out);
      return;
  }
}

}  // namespace
}  // namespace keycache

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keycache;
  FuzzedDataProvider provider(data, size);
  std::vector<std::size_t> sizes;
  const int pieces = provider.ConsumeIntegralInRange(0, 4);
  for (int i = 0; i < pieces; ++i) sizes.push_back(provider.ConsumeIntegralInRange(1, 64));
  const std::string bytes = provider.ConsumeRemainingBytesAsString();

  const Outcome whole = ParseInChunks(bytes, {});
  const Outcome single = ParseInChunks(bytes, {1});
  const Outcome chunked = ParseInChunks(bytes, sizes);
  for (const Outcome* other : {&single, &chunked}) {
    FUZZ_CHECK(other->failed == whole.failed);
    FUZZ_CHECK(other->replies == whole.replies);
  }
  for (const RedisReply& reply : whole.replies) {
    // Status and error lines cannot carry CR LF, which the parser took as their end.
    std::string encoded;
    Encode(reply, encoded);
    const Outcome again = ParseInChunks(encoded, {});
    FUZZ_CHECK(!again.failed && again.replies.size() == 1 && again.replies[0] == reply);
  }
  return 0;
}
