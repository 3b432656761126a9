// Helpers that build JSON responses and escape strings for JSON. Pure functions, thread-safe.
// Error bodies have the shape {"error":"<machine code>","message":"<human text>"}.
#pragma once

#include <string>
#include <string_view>

#include "http/http_types.h"

namespace keycache {

// Appends `text` as a JSON string literal, quotes included. Escapes '"', '\\' and control
// characters; invalid UTF-8 bytes become U+FFFD so the output is always valid JSON even when the
// text echoes client input.
void AppendJsonString(std::string& out, std::string_view text);
std::string JsonString(std::string_view text);

// Content-Type: application/json. The server normalises version, keep-alive and Content-Length
// before writing, so handlers may pass req.version() and req.keep_alive() or rely on the defaults.
Response JsonResponse(unsigned status, std::string body, unsigned version = 11,
                      bool keep_alive = true);
Response JsonError(unsigned status, std::string_view error, std::string_view message,
                   unsigned version = 11, bool keep_alive = true);

}  // namespace keycache
