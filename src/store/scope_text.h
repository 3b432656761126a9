// The text form of a key's scope list in the api_keys table, shared by the SQLite and the
// PostgreSQL stores so that both keep one encoding. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace keycache {

// Scopes are stored newline-separated: a valid scope never contains a newline, and the column
// stays readable in a SQL shell. An empty list is "".
std::string EncodeScopes(const std::vector<std::string>& scopes);
std::vector<std::string> DecodeScopes(std::string_view text);
// False for lists the encoding cannot carry back unchanged (an empty scope, or a newline).
bool ScopesEncodable(const std::vector<std::string>& scopes);

}  // namespace keycache
