// A key's public id: a random 64-bit number, written as exactly 11 base62 characters. It is the
// lookup handle embedded in every key and the {id} of the REST API. Value type; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keycache {

using KeyId = std::uint64_t;

inline constexpr std::size_t kKeyIdChars = 11;  // 62^11 > 2^64

std::string KeyIdToString(KeyId id);
// Exactly 11 base62 characters whose value fits in 64 bits; nullopt otherwise.
std::optional<KeyId> ParseKeyId(std::string_view text);

}  // namespace keycache
