// Strict parsers for the textual forms configuration values take. Pure functions; thread-safe.
// Each returns nullopt for anything it does not accept: no surrounding blanks, no trailing junk,
// no overflow.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keycache {

// true/false, 1/0, yes/no, on/off; case-insensitive.
std::optional<bool> ParseBool(std::string_view text);

// Decimal, optional leading '-', no '+', must fit in int64.
std::optional<std::int64_t> ParseInt(std::string_view text);

// "250ms", "30s", "5m", "1h" (unit case-insensitive) or a bare integer meaning seconds.
// Returns milliseconds; never negative.
std::optional<std::int64_t> ParseDurationMs(std::string_view text);

// Plain bytes, or an integer with b, kb/k/kib, mb/m/mib, gb/g/gib (case-insensitive; all
// multiples of 1024). "512mb" = 512 * 2^20.
std::optional<std::uint64_t> ParseSizeBytes(std::string_view text);

// The shortest of "250ms", "30s", "5m", "1h" that is exact; for messages.
std::string FormatDurationMs(std::int64_t ms);

// The largest of "1gb", "512mb", "64kb", "100b" that is exact; for messages.
std::string FormatSizeBytes(std::uint64_t bytes);

}  // namespace keycache
