// KnownVariables: the one list of every environment variable keycache reads (the service, its
// aliases and the CLI), and the check that turns a variable with one of our prefixes that is not
// on the list into a warning, so a typo such as REDIS_HOTS does not pass silently. Pure functions
// over immutable data; safe from any thread.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "config/config_error.h"
#include "config/dotenv.h"

namespace keycache {

// Sorted by name; docs/configuration.md documents each of them (a test keeps the two equal).
std::span<const std::string_view> KnownVariables();
bool IsKnownVariable(std::string_view name);

// The prefixes whose unknown variables are reported: REDIS_, CACHE_, API_KEY_CACHE_, KEYCACHE_.
bool HasKeycachePrefix(std::string_view name);

// One warning per variable in `env` that has one of our prefixes but is not known, sorted by
// name, e.g. {"REDIS_HOTS", "is not a keycache variable and is ignored (did you mean
// REDIS_HOST?)"}. Never contains a variable's value.
std::vector<ConfigError> UnknownVariableWarnings(const EnvMap& env);

}  // namespace keycache
