// Fixed-width base62 ("0-9A-Za-z") encoding of unsigned integers and byte strings. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace keycache::base62 {

inline constexpr std::string_view kAlphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Digit value of c, or -1 when c is not in the alphabet.
int DigitValue(char c);

// Writes v as exactly `width` digits, most significant first, zero-padded ('0').
// Precondition: v < 62^width.
void AppendFixed(std::string& out, std::uint64_t v, std::size_t width);

// Parses exactly text.size() digits; nullopt on a bad digit or overflow of 64 bits.
std::optional<std::uint64_t> DecodeFixed(std::string_view text);

}  // namespace keycache::base62
