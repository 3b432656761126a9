// The API key format, "<prefix>_<body>", in two versions (docs/adr/0006-tagged-keys.md):
//
//   tagged (issued since schema 2): body = "2" + 11 base62 chars of key id + 32 of CSPRNG secret
//     (~190 bits) + 8 of tag + 6 of CRC32 over everything before it (58 chars). The tag is 47
//     bits of the key's stored hash, HMAC-SHA256(pepper, key without tag and checksum): only the
//     server can mint a key that passes it, so a well-formed key keycache never issued is
//     refused after one HMAC, with no cache or database lookup.
//   legacy: body = id (11) + secret (32) + CRC32 (6), 49 chars; stored hash over the whole key.
//     Still accepted; the service refuses legacy keys whose id it does not know as legacy
//     (service/legacy_key_ids.h), since anyone can mint these.
//
// The CRC is public, for secret scanners and typo detection: parsing checks length, alphabet and
// checksum without any secret, so garbage never reaches the HMAC either.
// Pure functions, except the generators, which read the OS CSPRNG (RAND_bytes); all thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/key_hasher.h"
#include "core/key_id.h"
#include "util/error.h"

namespace keycache {

enum class KeyFormat : std::uint8_t { kLegacy = 1, kTagged = 2 };

inline constexpr std::size_t kSecretChars = 32;
inline constexpr std::size_t kChecksumChars = 6;
inline constexpr std::size_t kTagChars = 8;  // 62^8 > 2^47
inline constexpr int kTagBits = 47;
inline constexpr char kTaggedVersionChar = '2';
inline constexpr std::size_t kLegacyBodyChars = kKeyIdChars + kSecretChars + kChecksumChars;  // 49
inline constexpr std::size_t kTaggedBodyChars = 1 + kLegacyBodyChars + kTagChars;             // 58
inline constexpr std::size_t kKeyBodyChars = kTaggedBodyChars;  // what keycache issues
inline constexpr std::size_t kMaxPrefixChars = 16;

// A prefix is 1..16 characters of [a-z0-9]; it may not contain '_'.
bool IsValidKeyPrefix(std::string_view prefix);

struct GeneratedKey {
  std::string key;  // the full plaintext key; shown to the caller once, never stored
  KeyId id = 0;
  KeyHash hash{};  // what the store keeps (see the format notes above)
  KeyFormat format = KeyFormat::kTagged;
};

// A tagged key with a fresh id and secret from the CSPRNG. Errc::kBadInput for an invalid prefix,
// kUnavailable if the CSPRNG fails.
Result<GeneratedKey> GenerateKey(std::string_view prefix, const KeyHasher& hasher);

// The same with a caller-chosen id (tests and the benchmark seeder need deterministic ids).
Result<GeneratedKey> GenerateKeyWithId(std::string_view prefix, KeyId id, const KeyHasher& hasher);

// A legacy key (keycache no longer issues these; tests of their compatibility and the benchmarks
// of the legacy path make them).
Result<GeneratedKey> GenerateLegacyKeyWithId(std::string_view prefix, KeyId id,
                                             const KeyHasher& hasher);

struct ParsedKey {
  KeyId id = 0;
  KeyFormat format = KeyFormat::kTagged;
  std::string_view hashed;  // the part of the key its stored hash covers (a view into the key)
  std::uint64_t tag = 0;    // tagged keys: the tag it carries
};

// Validates format and checksum (no secret involved); Errc::kBadInput if malformed.
Result<ParsedKey> ParseKeyParts(std::string_view prefix, std::string_view key);

// ParseKeyParts' id.
Result<KeyId> ParseKey(std::string_view prefix, std::string_view key);

// The id a key of either format would have, checking only its length, prefix, separator, version
// and id digits: not the rest of its alphabet, its checksum or its tag. Only for recognising
// bytes that already passed every check (core/proof_tag.h); anything else must be parsed with
// ParseKeyParts. Errc::kBadInput when not even that much is right.
Result<KeyId> PeekKeyId(std::string_view prefix, std::string_view key);

// The tag a tagged key whose stored hash is `hash` carries: its first 47 bits.
std::uint64_t KeyTag(const KeyHash& hash);

// Does the key's tag match `hash`, the HMAC of its hashed part? Always true for legacy keys,
// which carry no tag. One integer comparison: its time does not depend on how many bits match.
bool TagMatches(const ParsedKey& key, const KeyHash& hash);

}  // namespace keycache
