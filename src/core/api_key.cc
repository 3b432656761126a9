#include "core/api_key.h"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "core/base62.h"
#include "core/crc32.h"

namespace keycache {
namespace {

static_assert(kKeyBodyChars == 49);
// 62^6 = 56,800,235,584 > 2^32, so six digits hold any CRC32.
static_assert(62ull * 62 * 62 * 62 * 62 * 62 > 0xFFFFFFFFull);

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

}  // namespace

bool IsValidKeyPrefix(std::string_view prefix) {
  if (prefix.empty() || prefix.size() > kMaxPrefixChars) return false;
  for (char c : prefix) {
    if (!IsPrefixChar(c)) return false;
  }
  return true;
}

Result<GeneratedKey> GenerateKeyWithId(std::string_view prefix, KeyId id) {
  if (!IsValidKeyPrefix(prefix)) return Errc::kBadInput;
  GeneratedKey g;
  g.id = id;
  g.key.reserve(prefix.size() + 1 + kKeyBodyChars);
  g.key.append(prefix);
  g.key.push_back('_');
  base62::AppendFixed(g.key, id, kKeyIdChars);
  if (!AppendSecret(g.key)) {
    OPENSSL_cleanse(g.key.data(), g.key.size());
    return Errc::kUnavailable;
  }
  base62::AppendFixed(g.key, Crc32(g.key), kChecksumChars);
  return g;
}

Result<GeneratedKey> GenerateKey(std::string_view prefix) {
  // Id 0 means "none" elsewhere (KeyRecord::replaced_by), so it is never issued.
  KeyId id = 0;
  while (id == 0) {
    std::array<unsigned char, sizeof(KeyId)> raw;
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) return Errc::kUnavailable;
    std::memcpy(&id, raw.data(), sizeof id);
  }
  return GenerateKeyWithId(prefix, id);
}

Result<KeyId> ParseKey(std::string_view prefix, std::string_view key) {
  // Runs on every verification: checks only, no allocation, cheapest checks first.
  if (key.size() != prefix.size() + 1 + kKeyBodyChars) return Errc::kBadInput;
  if (key.substr(0, prefix.size()) != prefix || key[prefix.size()] != '_') {
    return Errc::kBadInput;
  }
  const std::string_view body = key.substr(prefix.size() + 1);
  bool all_digits = true;  // no early exit: one predictable branch instead of 49
  for (char c : body) all_digits &= kIsDigit[static_cast<unsigned char>(c)];
  if (!all_digits) return Errc::kBadInput;
  const auto checksum = base62::DecodeFixed(body.substr(kKeyIdChars + kSecretChars));
  if (!checksum || *checksum != Crc32(key.substr(0, key.size() - kChecksumChars))) {
    return Errc::kBadInput;
  }
  const auto id = base62::DecodeFixed(body.substr(0, kKeyIdChars));
  if (!id) return Errc::kBadInput;
  return *id;
}

}  // namespace keycache
