#include "config/value_parsers.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

namespace keycache {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Splits "123abc" into 123 and "abc"; nullopt when there are no leading digits or on overflow.
std::optional<std::pair<std::uint64_t, std::string_view>> SplitNumber(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && IsDigit(text[digits])) ++digits;
  if (digits == 0) return std::nullopt;
  std::uint64_t n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, n);
  if (ec != std::errc() || ptr != text.data() + digits) return std::nullopt;
  return std::make_pair(n, text.substr(digits));
}

std::optional<std::uint64_t> Multiply(std::uint64_t n, std::uint64_t unit, std::uint64_t limit) {
  if (n > limit / unit) return std::nullopt;
  return n * unit;
}

}  // namespace

std::optional<bool> ParseBool(std::string_view text) {
  const std::string t = Lower(text);
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  return std::nullopt;
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
  if (text.empty() || text.front() == '+') return std::nullopt;
  std::int64_t n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return n;
}

std::optional<std::int64_t> ParseDurationMs(std::string_view text) {
  const auto split = SplitNumber(text);
  if (!split) return std::nullopt;
  const auto [n, unit_text] = *split;
  const std::string unit = Lower(unit_text);
  std::uint64_t unit_ms = 0;
  if (unit == "ms") {
    unit_ms = 1;
  } else if (unit.empty() || unit == "s") {
    unit_ms = 1000;
  } else if (unit == "m") {
    unit_ms = 60'000;
  } else if (unit == "h") {
    unit_ms = 3'600'000;
  } else {
    return std::nullopt;
  }
  const auto ms = Multiply(n, unit_ms, std::numeric_limits<std::int64_t>::max());
  if (!ms) return std::nullopt;
  return static_cast<std::int64_t>(*ms);
}

std::optional<std::uint64_t> ParseSizeBytes(std::string_view text) {
  const auto split = SplitNumber(text);
  if (!split) return std::nullopt;
  const auto [n, unit_text] = *split;
  const std::string unit = Lower(unit_text);
  std::uint64_t unit_bytes = 0;
  if (unit.empty() || unit == "b") {
    unit_bytes = 1;
  } else if (unit == "kb" || unit == "k" || unit == "kib") {
    unit_bytes = std::uint64_t{1} << 10;
  } else if (unit == "mb" || unit == "m" || unit == "mib") {
    unit_bytes = std::uint64_t{1} << 20;
  } else if (unit == "gb" || unit == "g" || unit == "gib") {
    unit_bytes = std::uint64_t{1} << 30;
  } else {
    return std::nullopt;
  }
  return Multiply(n, unit_bytes, std::numeric_limits<std::uint64_t>::max());
}

std::string FormatDurationMs(std::int64_t ms) {
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string FormatSizeBytes(std::uint64_t bytes) {
  constexpr std::uint64_t kKb = 1 << 10, kMb = 1 << 20, kGb = 1 << 30;
  if (bytes != 0 && bytes % kGb == 0) return std::to_string(bytes / kGb) + "gb";
  if (bytes != 0 && bytes % kMb == 0) return std::to_string(bytes / kMb) + "mb";
  if (bytes != 0 && bytes % kKb == 0) return std::to_string(bytes / kKb) + "kb";
  return std::to_string(bytes) + "b";
}

}  // namespace keycache
