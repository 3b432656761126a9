// Fuzzes ParseKey (core/api_key.h). Properties: a key that parses is exactly
// "<prefix>_<id><secret><crc>" with the id re-rendering to the same 11 characters and the
// checksum recomputing to the same 6; changing any one character of it makes it unparseable;
// GenerateKeyWithId/GenerateKey output always parses back to its id.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/api_key.h"
#include "core/base62.h"
#include "core/crc32.h"
#include "core/key_id.h"
#include "fuzz/fuzz_check.h"

namespace keycache {
namespace {

void CheckParsed(std::string_view prefix, std::string_view key, KeyId id, std::size_t mutate_at,
                 std::uint8_t mutate_to) {
  FUZZ_CHECK(key.size() == prefix.size() + 1 + kKeyBodyChars);
  FUZZ_CHECK(key.substr(0, prefix.size()) == prefix && key[prefix.size()] == '_');
  const std::string_view body = key.substr(prefix.size() + 1);
  FUZZ_CHECK(KeyIdToString(id) == body.substr(0, kKeyIdChars));
  FUZZ_CHECK(ParseKeyId(body.substr(0, kKeyIdChars)) == id);
  std::string rendered(key.substr(0, key.size() - kChecksumChars));
  base62::AppendFixed(rendered, Crc32(rendered), kChecksumChars);
  FUZZ_CHECK(rendered == key);

  // One substituted character anywhere (prefix, separator, id, secret or checksum) is refused:
  // a CRC32 catches every error burst shorter than 33 bits.
  std::string typo(key);
  const std::size_t at = mutate_at % typo.size();
  const char replacement = static_cast<char>(mutate_to);
  if (typo[at] != replacement) {
    typo[at] = replacement;
    FUZZ_CHECK(!ParseKey(prefix, typo));
  }
}

void CheckGenerated(std::string_view prefix, KeyId id) {
  const Result<GeneratedKey> made = GenerateKeyWithId(prefix, id);
  FUZZ_CHECK(made.has_value() == IsValidKeyPrefix(prefix));
  if (!made) {
    FUZZ_CHECK(made.error() == Errc::kBadInput);
    return;
  }
  FUZZ_CHECK(made->id == id);
  const Result<KeyId> parsed = ParseKey(prefix, made->key);
  FUZZ_CHECK(parsed && *parsed == id);
}

}  // namespace
}  // namespace keycache

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keycache;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // The prefix the key claims (its text before the first '_'), and the default one.
  const std::size_t underscore = input.find('_');
  const std::string_view claimed =
      underscore == std::string_view::npos ? std::string_view() : input.substr(0, underscore);
  KeyId seed = 0;
  std::memcpy(&seed, data, std::min(size, sizeof seed));

  for (const std::string_view prefix : {claimed, std::string_view("ak")}) {
    const Result<KeyId> id = ParseKey(prefix, input);
    if (id) {
      CheckParsed(prefix, input, *id, static_cast<std::size_t>(seed),
                  static_cast<std::uint8_t>(seed >> 56));
    } else {
      FUZZ_CHECK(id.error() == Errc::kBadInput);
    }
  }

  CheckGenerated(claimed.substr(0, 2 * kMaxPrefixChars), seed);
  if (size > 0 && data[0] == 'G') {  // now and then, a fresh key from the CSPRNG
    const Result<GeneratedKey> fresh = GenerateKey("ak");
    FUZZ_CHECK(fresh && fresh->id != 0);
    const Result<KeyId> parsed = ParseKey("ak", fresh->key);
    FUZZ_CHECK(parsed && *parsed == fresh->id);
  }
  return 0;
}
