// Reader: looks configuration variables up in an EnvMap and records one ConfigError per bad value,
// so LoadConfig can report every problem at once. Internal to src/config. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_error.h"
#include "config/dotenv.h"
#include "config/known_variables.h"
#include "config/value_parsers.h"
#include "util/check.h"

namespace keycache::config_internal {

// "value" for messages: quoted, control characters escaped, long values cut short.
std::string Quote(std::string_view value);

// Letters, digits, '-' and '.', 1..253 characters (the shape of a DNS name; IPs are checked apart).
bool IsHostName(std::string_view s);

// Looks variables up and records an error for each bad value; a setter leaves its output
// untouched when the variable is unset, empty or invalid, so defaults are plain assignments.
class Reader {
 public:
  explicit Reader(const EnvMap& env) : env_(env) {}

  std::optional<std::string_view> Get(const char* var) const {
    KC_DCHECK(IsKnownVariable(var));  // every variable read is on the list (known_variables.h)
    const auto it = env_.find(var);
    if (it == env_.end() || it->second.empty()) return std::nullopt;
    return std::string_view(it->second);
  }

  void Error(const char* var, std::string message) { errors_.push_back({var, std::move(message)}); }

  std::size_t ErrorCount() const { return errors_.size(); }

  std::vector<ConfigError> TakeErrors() { return std::move(errors_); }

  template <class T>
  void Int(const char* var, std::string_view noun, std::int64_t lo, std::int64_t hi, T& out) {
    const auto text = Get(var);
    if (!text) return;
    const std::string expected =
        "expected an integer " + std::to_string(lo) + ".." + std::to_string(hi);
    const auto n = ParseInt(*text);
    if (!n) return Error(var, Quote(*text) + " is not " + std::string(noun) + "; " + expected);
    if (*n < lo || *n > hi) return Error(var, Quote(*text) + " is out of range; " + expected);
    out = static_cast<T>(*n);
  }

  void Bool(const char* var, bool& out) {
    const auto text = Get(var);
    if (!text) return;
    const auto b = ParseBool(*text);
    if (!b) {
      return Error(var,
                   Quote(*text) + " is not a boolean; expected true/false, 1/0, yes/no or on/off");
    }
    out = *b;
  }

  void DurationMs(const char* var, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
    const auto ms = ParseDurationText(var);
    if (!ms) return;
    if (*ms < lo || *ms > hi) {
      return Error(var, Quote(*Get(var)) + " is out of range; expected " + FormatDurationMs(lo) +
                            ".." + FormatDurationMs(hi));
    }
    out = *ms;
  }

  // A duration that must be whole seconds; bare integers are seconds already.
  void Seconds(const char* var, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
    const auto ms = ParseDurationText(var);
    if (!ms) return;
    if (*ms % 1000 != 0) return Error(var, Quote(*Get(var)) + " is not a whole number of seconds");
    const std::int64_t s = *ms / 1000;
    if (s < lo || s > hi) {
      return Error(var, Quote(*Get(var)) + " is out of range; expected " +
                            FormatDurationMs(lo * 1000) + ".." + FormatDurationMs(hi * 1000) +
                            " (bare numbers are seconds)");
    }
    out = s;
  }

  void Size(const char* var, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) {
    const auto text = Get(var);
    if (!text) return;
    const auto bytes = ParseSizeBytes(*text);
    if (!bytes) {
      return Error(var, Quote(*text) +
                            " is not a size; expected bytes or a number with b, kb, mb or gb "
                            "(e.g. 512mb)");
    }
    if (*bytes < lo || *bytes > hi) {
      return Error(var, Quote(*text) + " is out of range; expected " + FormatSizeBytes(lo) + ".." +
                            FormatSizeBytes(hi));
    }
    out = *bytes;
  }

 private:
  std::optional<std::int64_t> ParseDurationText(const char* var) {
    const auto text = Get(var);
    if (!text) return std::nullopt;
    const auto ms = ParseDurationMs(*text);
    if (!ms) {
      Error(var,
            Quote(*text) + " is not a duration; expected e.g. 250ms, 30s, 5m, 1h or bare seconds");
    }
    return ms;
  }

  const EnvMap& env_;
  std::vector<ConfigError> errors_;
};

}  // namespace keycache::config_internal
