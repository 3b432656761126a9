// RFC 3339 timestamps (UTC, millisecond precision) to and from Unix milliseconds. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/clock.h"

namespace keycache {

// "2026-11-25T22:14:10.123Z"
std::string FormatRfc3339(TimeMs t);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)"; 't'/'z' in lower case too.
// Returns nullopt for anything else, including out-of-range fields.
std::optional<TimeMs> ParseRfc3339(std::string_view text);

}  // namespace keycache
