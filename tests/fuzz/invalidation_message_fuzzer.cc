// Fuzzes DecodeInvalidation (l2/invalidation_message.h). Properties: a payload that decodes
// re-encodes to a payload that decodes to the same message, and encoding is then stable; a
// message built from the input (any kind, any JSON-safe strings) survives encode + decode.
#include <fuzzer/FuzzedDataProvider.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "l2/invalidation_message.h"

namespace keycache {
namespace {

bool Same(const InvalidationMessage& a, const InvalidationMessage& b) { return a == b; }

void CheckRoundTrip(const InvalidationMessage& m) {
  const std::string encoded = EncodeInvalidation(m);
  const Result<InvalidationMessage> back = DecodeInvalidation(encoded);
  FUZZ_CHECK(back && Same(*back, m));
  FUZZ_CHECK(EncodeInvalidation(*back) == encoded);
}

// Strings JSON can carry (valid UTF-8); others cannot come from a JSON request in the first place.
bool JsonSafe(const std::string& s) {
  boost::system::error_code ec;
  boost::json::parse(boost::json::serialize(boost::json::string(s)), ec);
  return !ec;
}

}  // namespace
}  // namespace keycache

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keycache;
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  if (Result<InvalidationMessage> m = DecodeInvalidation(payload)) CheckRoundTrip(*m);

  // The same bytes as the fields of a message of every kind.
  FuzzedDataProvider p(data, size);
  InvalidationMessage m;
  const int kind = p.ConsumeIntegralInRange(0, 4);
  m.sent_at_us = p.ConsumeIntegral<std::int64_t>();
  m.source = p.ConsumeRandomLengthString(64);
  CacheChange& c = m.change;
  switch (kind) {
    case 0:
      c = CacheChange::Key(p.ConsumeIntegral<KeyId>(), p.ConsumeRandomLengthString(200));
      break;
    case 1:
      c = CacheChange::Owner(p.ConsumeRandomLengthString(200));
      break;
    case 2:
      c = CacheChange::Type(static_cast<CacheType>(p.ConsumeIntegralInRange(0, 3)));
      break;
    case 3:
      c = CacheChange::All();
      break;
    case 4:
      m.heartbeat = true;
      m.heartbeat_seq = p.ConsumeIntegral<std::uint64_t>();
      break;
  }
  if (JsonSafe(m.source) && JsonSafe(c.owner)) CheckRoundTrip(m);
  return 0;
}
