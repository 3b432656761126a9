#include "util/time_format.h"

#include <cstdint>

namespace keycache {
namespace {

constexpr std::int64_t kMsPerSecond = 1000;
constexpr std::int64_t kMsPerDay = 86'400'000;

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, era-based), which
// are exact for every int64 day count we can produce and need no time zone or locale state.
constexpr std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);                 // [0, 399]
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

constexpr Civil CivilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

static_assert(DaysFromCivil(1970, 1, 1) == 0);
static_assert(DaysFromCivil(2000, 3, 1) == 11017);
static_assert(CivilFromDays(11017).year == 2000 && CivilFromDays(11017).month == 3);

constexpr bool IsLeap(std::int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

constexpr unsigned DaysInMonth(std::int64_t y, unsigned m) {
  constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

void AppendDigits(std::string& out, std::uint64_t v, int width) {
  char buf[20];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (int i = n; i < width; ++i) out.push_back('0');
  while (n > 0) out.push_back(buf[--n]);
}

// Reads exactly `n` ASCII digits at text[pos]; false if any is missing or not a digit.
bool ReadDigits(std::string_view text, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > text.size()) return false;
  unsigned v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  out = v;
  return true;
}

}  // namespace

std::string FormatRfc3339(TimeMs t) {
  // Floor division so that times before the epoch still get a non-negative time of day.
  std::int64_t days = t / kMsPerDay;
  std::int64_t ms_of_day = t % kMsPerDay;
  if (ms_of_day < 0) {
    ms_of_day += kMsPerDay;
    --days;
  }
  const Civil c = CivilFromDays(days);
  const auto ms = static_cast<std::uint64_t>(ms_of_day);

  std::string out;
  out.reserve(24);
  std::int64_t year = c.year;
  if (year < 0) {
    out.push_back('-');
    year = -year;
  }
  AppendDigits(out, static_cast<std::uint64_t>(year), 4);
  out.push_back('-');
  AppendDigits(out, c.month, 2);
  out.push_back('-');
  AppendDigits(out, c.day, 2);
  out.push_back('T');
  AppendDigits(out, ms / 3'600'000, 2);
  out.push_back(':');
  AppendDigits(out, ms / 60'000 % 60, 2);
  out.push_back(':');
  AppendDigits(out, ms / 1000 % 60, 2);
  out.push_back('.');
  AppendDigits(out, ms % 1000, 3);
  out.push_back('Z');
  return out;
}

std::optional<TimeMs> ParseRfc3339(std::string_view s) {
  // Fixed part: "YYYY-MM-DDTHH:MM:SS" (19 characters).
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !ReadDigits(s, 5, 2, month) ||
      s[7] != '-' || !ReadDigits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
      !ReadDigits(s, 11, 2, hour) || s[13] != ':' || !ReadDigits(s, 14, 2, minute) ||
      s[16] != ':' || !ReadDigits(s, 17, 2, second)) {
    return std::nullopt;
  }
  // Leap seconds (":60") are refused: Unix time cannot represent them.
  if (year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1 ||
      day > DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }

  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const std::size_t first = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      // Digits beyond the third are truncated, not rounded.
      if (pos - first < 3) millis = millis * 10 + (s[pos] - '0');
      ++pos;
    }
    const std::size_t n = pos - first;
    if (n == 0) return std::nullopt;
    for (std::size_t i = n; i < 3; ++i) millis *= 10;
  }

  std::int64_t offset_minutes = 0;
  if (pos >= s.size()) return std::nullopt;
  const char zone = s[pos];
  if (zone == 'Z' || zone == 'z') {
    ++pos;
  } else if (zone == '+' || zone == '-') {
    unsigned oh = 0, om = 0;
    if (!ReadDigits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ReadDigits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = static_cast<std::int64_t>(oh) * 60 + om;
    if (zone == '-') offset_minutes = -offset_minutes;
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;

  const std::int64_t days = DaysFromCivil(year, month, day);
  const std::int64_t local_seconds =
      days * 86'400 + std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + std::int64_t{second};
  const TimeMs t = (local_seconds - offset_minutes * 60) * kMsPerSecond + millis;
  // "1970-01-01T00:30:00+01:00" is well formed but lies before the epoch; keycache has no
  // timestamps before 1970, so it is refused like any other out-of-range value.
  if (t < 0) return std::nullopt;
  return t;
}

}  // namespace keycache
