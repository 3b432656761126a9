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

bool Same(const InvalidationMessage& a, const InvalidationMessage& b) {
  return a.kind == b.kind && a.source == b.source && a.sent_at_us == b.sent_at_us && a.id == b.id &&
         a.owner == b.owner && a.type == b.type;
}

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
  m.kind = static_cast<InvalidationMessage::Kind>(p.ConsumeIntegralInRange(0, 3));
  m.sent_at_us = p.ConsumeIntegral<std::int64_t>();
  m.source = p.ConsumeRandomLengthString(64);
  switch (m.kind) {
    case InvalidationMessage::Kind::kKey:
      m.id = p.ConsumeIntegral<KeyId>();
      m.owner = p.ConsumeRandomLengthString(200);
      break;
    case InvalidationMessage::Kind::kOwner:
      m.owner = p.ConsumeRandomLengthString(200);
      break;
    case InvalidationMessage::Kind::kType:
      m.type = static_cast<CacheType>(p.ConsumeIntegralInRange(0, 3));
      break;
    case InvalidationMessage::Kind::kAll:
      break;
  }
  if (JsonSafe(m.source) && JsonSafe(m.owner)) CheckRoundTrip(m);
  return 0;
}
