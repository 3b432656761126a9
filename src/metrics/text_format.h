// Pieces of the Prometheus text exposition format 0.0.4: name rules, escaping and numbers.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace keycache {

inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidMetricName(std::string_view name);

// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved for Prometheus itself).
bool IsValidLabelName(std::string_view name);

// HELP text: backslash and newline escaped.
void AppendEscapedHelp(std::string& out, std::string_view help);

// Label values: backslash, double quote and newline escaped.
void AppendEscapedLabelValue(std::string& out, std::string_view value);

// Shortest round-trip form ("0.25", "0.0005", "300", "1e-05", "1e+20"), or "NaN", "+Inf",
// "-Inf".
void AppendNumber(std::string& out, double v);

}  // namespace keycache
