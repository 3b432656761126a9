// Reading a .env file and merging it under the process environment. Pure functions apart from
// ReadDotEnv's file read; all are thread-safe.
#pragma once

#include <boost/system/result.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "config/config_error.h"

namespace keycache {

using EnvMap = std::map<std::string, std::string>;

// Parses KEY=VALUE lines. Accepted:
//   blank lines and lines whose first non-blank character is '#';
//   an optional "export " before the key; keys [A-Za-z_][A-Za-z0-9_]*; blanks around '=';
//   unquoted values (trimmed; a '#' after a blank starts a comment, so "a#b" stays whole),
//   'single quoted' values (literal), "double quoted" values (\n \r \t \" \\ are escapes).
// A quoted value must close on its own line and be followed only by blanks or a comment.
// No variable expansion. A later duplicate wins. CRLF line ends are accepted.
// An unreadable file or a malformed line is an error naming the file and the line number
// (never the line's content, which may hold a secret).
boost::system::result<EnvMap, ConfigError> ReadDotEnv(const std::filesystem::path& path);

// Same grammar, for text already in memory; `origin` names it in error messages.
boost::system::result<EnvMap, ConfigError> ParseDotEnv(std::string_view text,
                                                       std::string_view origin);

// `dotenv` overlaid with every NAME=VALUE entry of `environ` (may be null): the real
// environment wins, so a deployment can override a checked-in .env.
EnvMap MergeEnvironment(const EnvMap& dotenv, char** environ);

}  // namespace keycache
