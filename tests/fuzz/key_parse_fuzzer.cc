// Fuzzes ParseKeyParts (core/api_key.h). Properties: a key that parses is exactly
// "<prefix>_2<id><secret><tag><crc>" (tagged) or "<prefix>_<id><secret><crc>" (legacy), with the
// id re-rendering to the same 11 characters, the tag below 2^47, the hashed part a prefix of the
// key and the checksum recomputing to the same 6; changing any one character of it makes it
// unparseable; generated keys (both formats) parse back to their id, and a tagged one's tag
// matches only under the pepper that minted it; PeekKeyId names the same id for every key that
// parses.
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

const KeyHasher& Server() {
  static const KeyHasher h("the fuzzed server's pepper, 32 bytes or more");
  return h;
}

void CheckParsed(std::string_view prefix, std::string_view key, const ParsedKey& parsed,
                 std::size_t mutate_at, std::uint8_t mutate_to) {
  const bool tagged = parsed.format == KeyFormat::kTagged;
  FUZZ_CHECK(key.size() == prefix.size() + 1 + (tagged ? kTaggedBodyChars : kLegacyBodyChars));
  FUZZ_CHECK(key.substr(0, prefix.size()) == prefix && key[prefix.size()] == '_');
  const std::string_view body = key.substr(prefix.size() + 1);
  const std::string_view id_text = body.substr(tagged ? 1 : 0, kKeyIdChars);
  FUZZ_CHECK(!tagged || body[0] == kTaggedVersionChar);
  FUZZ_CHECK(KeyIdToString(parsed.id) == id_text);
  FUZZ_CHECK(ParseKeyId(id_text) == parsed.id);
  FUZZ_CHECK(key.substr(0, parsed.hashed.size()) == parsed.hashed);
  FUZZ_CHECK(tagged ? parsed.tag < (1ull << kTagBits) : parsed.hashed.size() == key.size());
  std::string rendered(key.substr(0, key.size() - kChecksumChars));
  base62::AppendFixed(rendered, Crc32(rendered), kChecksumChars);
  FUZZ_CHECK(rendered == key);

  // One substituted character anywhere (prefix, separator, version, id, secret, tag or checksum)
  // is refused: a CRC32 catches every error burst shorter than 33 bits.
  std::string typo(key);
  const std::size_t at = mutate_at % typo.size();
  const char replacement = static_cast<char>(mutate_to);
  if (typo[at] != replacement) {
    typo[at] = replacement;
    FUZZ_CHECK(!ParseKeyParts(prefix, typo));
  }
}

void CheckGenerated(std::string_view prefix, KeyId id) {
  const Result<GeneratedKey> made = GenerateKeyWithId(prefix, id, Server());
  const Result<GeneratedKey> legacy = GenerateLegacyKeyWithId(prefix, id, Server());
  FUZZ_CHECK(made.has_value() == IsValidKeyPrefix(prefix));
  FUZZ_CHECK(legacy.has_value() == IsValidKeyPrefix(prefix));
  if (!made) {
    FUZZ_CHECK(made.error() == Errc::kBadInput && legacy.error() == Errc::kBadInput);
    return;
  }
  for (const GeneratedKey* g : {&*made, &*legacy}) {
    FUZZ_CHECK(g->id == id);
    const Result<ParsedKey> parsed = ParseKeyParts(prefix, g->key);
    FUZZ_CHECK(parsed && parsed->id == id && parsed->format == g->format);
    FUZZ_CHECK(Server().Hash(parsed->hashed) == g->hash);
    FUZZ_CHECK(TagMatches(*parsed, g->hash));
  }
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
    const Result<ParsedKey> parsed = ParseKeyParts(prefix, input);
    // PeekKeyId (the hit path's shape-only read) names the same id for every key that parses,
    // and refuses only with kBadInput.
    const Result<KeyId> peeked = PeekKeyId(prefix, input);
    FUZZ_CHECK(peeked || peeked.error() == Errc::kBadInput);
    if (parsed) {
      FUZZ_CHECK(peeked && *peeked == parsed->id);
      CheckParsed(prefix, input, *parsed, static_cast<std::size_t>(seed),
                  static_cast<std::uint8_t>(seed >> 56));
    } else {
      FUZZ_CHECK(parsed.error() == Errc::kBadInput);
    }
  }

  CheckGenerated(claimed.substr(0, 2 * kMaxPrefixChars), seed);
  if (size > 0 && data[0] == 'G') {  // now and then, a fresh key from the CSPRNG
    const Result<GeneratedKey> fresh = GenerateKey("ak", Server());
    FUZZ_CHECK(fresh && fresh->id != 0);
    const Result<KeyId> parsed = ParseKey("ak", fresh->key);
    FUZZ_CHECK(parsed && *parsed == fresh->id);
  }
  return 0;
}
