// The API key format: "<prefix>_<body>", body = 11 base62 chars of key id + 32 base62 chars of
// CSPRNG secret (~190 bits) + 6 base62 chars of CRC32 over everything before it. Parsing checks
// length, alphabet and checksum without any lookup, so typos and garbage never reach a cache.
// Pure functions, except Generate which reads the OS CSPRNG (RAND_bytes); all are thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/key_id.h"
#include "util/error.h"

namespace keycache {

inline constexpr std::size_t kSecretChars = 32;
inline constexpr std::size_t kChecksumChars = 6;
inline constexpr std::size_t kKeyBodyChars = kKeyIdChars + kSecretChars + kChecksumChars;  // 49
inline constexpr std::size_t kMaxPrefixChars = 16;

// A prefix is 1..16 characters of [a-z0-9]; it may not contain '_'.
bool IsValidKeyPrefix(std::string_view prefix);

struct GeneratedKey {
  std::string key;  // the full plaintext key; shown to the caller once, never stored
  KeyId id;
};

// Draws a fresh id and secret from the CSPRNG. Fails only if the CSPRNG fails.
Result<GeneratedKey> GenerateKey(std::string_view prefix);

// Same format with a caller-chosen id (rotation keeps nothing of the old key, but tests and
// the benchmark seeder need deterministic ids).
Result<GeneratedKey> GenerateKeyWithId(std::string_view prefix, KeyId id);

// Validates format and checksum and returns the embedded id; Errc::kBadInput if malformed.
Result<KeyId> ParseKey(std::string_view prefix, std::string_view key);

}  // namespace keycache
