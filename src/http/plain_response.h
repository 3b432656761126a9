// Building a PlainResponse (http_types.h): header lines appended in wire form, and the
// conversion to a Response for a route whose slow path must return one.
#pragma once

#include <string>
#include <string_view>

#include "http/http_types.h"

namespace keycache {

// Appends "name: value\r\n" to `head`. `name` must be a token and `value` free of CR, LF and
// NUL (the caller's data is validated where it enters the system); both are copied as they are.
void AppendHeader(std::string& head, std::string_view name, std::string_view value);

// The same answer as a Response: status, each header line of `plain.head` as a field (in order),
// and the body. Throws std::invalid_argument when a line of `head` is not "name: value\r\n".
Response ToResponse(PlainResponse plain);

}  // namespace keycache
