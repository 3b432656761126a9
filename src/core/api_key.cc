#include "core/api_key.h"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "core/base62.h"
#include "core/crc32.h"

namespace keycache {
namespace {

static_assert(kLegacyBodyChars == 49 && kTaggedBodyChars == 58);
// 62^6 = 56,800,235,584 > 2^32, so six digits hold any CRC32.
static_assert(62ull * 62 * 62 * 62 * 62 * 62 > 0xFFFFFFFFull);
// 62^8 = 218,340,105,584,896 > 2^47, so eight digits hold any tag.
static_assert(62ull * 62 * 62 * 62 * 62 * 62 * 62 * 62 > (1ull << kTagBits));

// ParseKey's alphabet check, derived from base62::kAlphabet. A local table rather than calls to
// base62::DigitValue: those are out of line, and 49 calls were ~half of ParseKey's cost.
constexpr std::array<bool, 256> MakeIsDigitTable() {
  std::array<bool, 256> t{};
  for (char c : base62::kAlphabet) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kIsDigit = MakeIsDigitTable();

bool IsPrefixChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Appends kSecretChars uniformly distributed base62 characters. A byte b is used only if
// b < 248 (= 4 * 62), then b % 62 is uniform; the 8 larger values are discarded, which avoids
// the modulo bias of mapping 256 values onto 62.
bool AppendSecret(std::string& out) {
  constexpr unsigned kLimit = 256 - 256 % 62;  // 248
  std::array<unsigned char, 48> buf;           // ~1.5 batches expected: 32 / (248 / 256) = 33
  std::size_t produced = 0;
  while (produced < kSecretChars) {
    if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) return false;
    for (unsigned char b : buf) {
      if (b >= kLimit) continue;
      out.push_back(base62::kAlphabet[b % 62]);
      if (++produced == kSecretChars) break;
    }
  }
  OPENSSL_cleanse(buf.data(), buf.size());
  return true;
}

// "<prefix>_" + (the version digit) + id + secret: everything a key holds before its tag.
Result<std::string> StartKey(std::string_view prefix, KeyId id, KeyFormat format) {
  if (!IsValidKeyPrefix(prefix)) return Errc::kBadInput;
  std::string key;
  key.reserve(prefix.size() + 1 + kKeyBodyChars);
  key.append(prefix);
  key.push_back('_');
  if (format == KeyFormat::kTagged) key.push_back(kTaggedVersionChar);
  base62::AppendFixed(key, id, kKeyIdChars);
  if (!AppendSecret(key)) {
    OPENSSL_cleanse(key.data(), key.size());
    return Errc::kUnavailable;
  }
  return key;
}

void AppendChecksum(std::string& key) { base62::AppendFixed(key, Crc32(key), kChecksumChars); }

// Length, prefix, separator, alphabet and checksum: the checks both formats share.
bool Wellformed(std::string_view prefix, std::string_view key, std::string_view body) {
  if (key.substr(0, prefix.size()) != prefix || key[prefix.size()] != '_') return false;
  bool all_digits = true;  // no early exit: one predictable branch instead of ~50
  for (char c : body) all_digits &= kIsDigit[static_cast<unsigned char>(c)];
  if (!all_digits) return false;
  const auto checksum = base62::DecodeFixed(body.substr(body.size() - kChecksumChars));
  return checksum && *checksum == Crc32(key.substr(0, key.size() - kChecksumChars));
}

}  // namespace

bool IsValidKeyPrefix(std::string_view prefix) {
  if (prefix.empty() || prefix.size() > kMaxPrefixChars) return false;
  for (char c : prefix) {
    if (!IsPrefixChar(c)) return false;
  }
  return true;
}

std::uint64_t KeyTag(const KeyHash& hash) {
  std::uint64_t v = 0;
  for (int i = 0; i < 6; ++i) v = (v << 8) | hash[static_cast<std::size_t>(i)];
  return v >> (48 - kTagBits);
}

bool TagMatches(const ParsedKey& key, const KeyHash& hash) {
  return key.format == KeyFormat::kLegacy || key.tag == KeyTag(hash);
}

Result<GeneratedKey> GenerateKeyWithId(std::string_view prefix, KeyId id, const KeyHasher& hasher) {
  auto key = StartKey(prefix, id, KeyFormat::kTagged);
  if (!key) return key.error();
  GeneratedKey g{.key = std::move(*key), .id = id, .format = KeyFormat::kTagged};
  g.hash = hasher.Hash(g.key);
  base62::AppendFixed(g.key, KeyTag(g.hash), kTagChars);
  AppendChecksum(g.key);
  return g;
}

Result<GeneratedKey> GenerateLegacyKeyWithId(std::string_view prefix, KeyId id,
                                             const KeyHasher& hasher) {
  auto key = StartKey(prefix, id, KeyFormat::kLegacy);
  if (!key) return key.error();
  GeneratedKey g{.key = std::move(*key), .id = id, .format = KeyFormat::kLegacy};
  AppendChecksum(g.key);
  g.hash = hasher.Hash(g.key);
  return g;
}

Result<GeneratedKey> GenerateKey(std::string_view prefix, const KeyHasher& hasher) {
  // Id 0 means "none" elsewhere (KeyRecord::replaced_by), so it is never issued.
  KeyId id = 0;
  while (id == 0) {
    std::array<unsigned char, sizeof(KeyId)> raw;
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) return Errc::kUnavailable;
    std::memcpy(&id, raw.data(), sizeof id);
  }
  return GenerateKeyWithId(prefix, id, hasher);
}

Result<ParsedKey> ParseKeyParts(std::string_view prefix, std::string_view key) {
  // Runs on every verification: checks only, no allocation, cheapest checks first.
  if (key.size() <= prefix.size() + 1) return Errc::kBadInput;
  const std::size_t body_chars = key.size() - prefix.size() - 1;
  if (body_chars != kTaggedBodyChars && body_chars != kLegacyBodyChars) return Errc::kBadInput;
  const std::string_view body = key.substr(prefix.size() + 1);
  if (!Wellformed(prefix, key, body)) return Errc::kBadInput;
  ParsedKey parsed;
  std::string_view rest = body;
  if (body_chars == kTaggedBodyChars) {
    if (body[0] != kTaggedVersionChar) return Errc::kBadInput;
    const auto tag = base62::DecodeFixed(body.substr(1 + kKeyIdChars + kSecretChars, kTagChars));
    if (!tag || *tag >> kTagBits != 0) return Errc::kBadInput;
    parsed.format = KeyFormat::kTagged;
    parsed.tag = *tag;
    parsed.hashed = key.substr(0, prefix.size() + 2 + kKeyIdChars + kSecretChars);
    rest = body.substr(1);
  } else {
    parsed.format = KeyFormat::kLegacy;
    parsed.hashed = key;
  }
  const auto id = base62::DecodeFixed(rest.substr(0, kKeyIdChars));
  if (!id) return Errc::kBadInput;
  parsed.id = *id;
  return parsed;
}

Result<KeyId> PeekKeyId(std::string_view prefix, std::string_view key) {
  if (key.size() <= prefix.size() + 1) return Errc::kBadInput;
  const std::size_t body_chars = key.size() - prefix.size() - 1;
  if (key.substr(0, prefix.size()) != prefix || key[prefix.size()] != '_') return Errc::kBadInput;
  std::string_view body = key.substr(prefix.size() + 1);
  if (body_chars == kTaggedBodyChars && body[0] == kTaggedVersionChar) {
    body.remove_prefix(1);
  } else if (body_chars != kLegacyBodyChars) {
    return Errc::kBadInput;
  }
  const auto id = base62::DecodeFixed(body.substr(0, kKeyIdChars));
  if (!id) return Errc::kBadInput;
  return *id;
}

Result<KeyId> ParseKey(std::string_view prefix, std::string_view key) {
  auto parsed = ParseKeyParts(prefix, key);
  if (!parsed) return parsed.error();
  return parsed->id;
}

}  // namespace keycache
