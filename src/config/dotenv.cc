#include "config/dotenv.h"

#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

namespace keycache {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

bool IsKeyStart(char c) { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsKeyChar(char c) { return IsKeyStart(c) || (c >= '0' && c <= '9'); }

bool IsValidKey(std::string_view key) {
  if (key.empty() || !IsKeyStart(key.front())) return false;
  for (char c : key) {
    if (!IsKeyChar(c)) return false;
  }
  return true;
}

// What may follow a closing quote: nothing, blanks, or blanks then a comment.
bool IsTrailerAllowed(std::string_view rest) {
  rest = TrimBlanks(rest);
  return rest.empty() || rest.front() == '#';
}

// Parses the value part of one line. Returns nullopt with `why` set when malformed.
std::optional<std::string> ParseValue(std::string_view raw, const char*& why) {
  const bool blank_after_equals = !raw.empty() && IsBlank(raw.front());
  raw = TrimBlanks(raw);
  if (blank_after_equals && !raw.empty() && raw.front() == '#') return std::string();  // "K= #c"
  if (raw.empty()) return std::string();
  const char quote = raw.front();
  if (quote == '\'') {
    const std::size_t close = raw.find('\'', 1);
    if (close == std::string_view::npos) {
      why = "unterminated single-quoted value";
      return std::nullopt;
    }
    if (!IsTrailerAllowed(raw.substr(close + 1))) {
      why = "unexpected text after the closing quote";
      return std::nullopt;
    }
    return std::string(raw.substr(1, close - 1));
  }
  if (quote == '"') {
    std::string out;
    for (std::size_t i = 1; i < raw.size(); ++i) {
      const char c = raw[i];
      if (c == '"') {
        if (!IsTrailerAllowed(raw.substr(i + 1))) {
          why = "unexpected text after the closing quote";
          return std::nullopt;
        }
        return out;
      }
      if (c == '\\' && i + 1 < raw.size()) {
        const char e = raw[++i];
        switch (e) {
          case 'n':
            out.push_back('\n');
            break;
          case 'r':
            out.push_back('\r');
            break;
          case 't':
            out.push_back('\t');
            break;
          case '"':
            out.push_back('"');
            break;
          case '\\':
            out.push_back('\\');
            break;
          default:  // unknown escapes stay as written, as in POSIX shells
            out.push_back('\\');
            out.push_back(e);
        }
        continue;
      }
      out.push_back(c);
    }
    why = "unterminated double-quoted value";
    return std::nullopt;
  }
  // Unquoted: a '#' starts a comment only after a blank, so "a#b" keeps its '#'.
  for (std::size_t i = 1; i < raw.size(); ++i) {
    if (raw[i] == '#' && IsBlank(raw[i - 1])) return std::string(TrimBlanks(raw.substr(0, i)));
  }
  return std::string(raw);
}

}  // namespace

boost::system::result<EnvMap, ConfigError> ParseDotEnv(std::string_view text,
                                                       std::string_view origin) {
  EnvMap env;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    line = TrimBlanks(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.starts_with("export") && line.size() > 6 && IsBlank(line[6])) {
      line = TrimBlanks(line.substr(6));
    }
    const auto fail = [&](std::string_view why) {
      return ConfigError{std::string(origin),
                         "line " + std::to_string(line_no) + ": " + std::string(why)};
    };
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) return fail("expected KEY=VALUE");
    const std::string_view key = TrimBlanks(line.substr(0, eq));
    if (!IsValidKey(key)) {
      return fail(
          "invalid variable name; expected letters, digits and '_', not starting with a digit");
    }
    const char* why = "";
    std::optional<std::string> value = ParseValue(line.substr(eq + 1), why);
    if (!value) return fail(why);
    env[std::string(key)] = std::move(*value);
  }
  return env;
}

boost::system::result<EnvMap, ConfigError> ReadDotEnv(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ConfigError{path.string(), "cannot open the file"};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return ConfigError{path.string(), "cannot read the file"};
  return ParseDotEnv(text.str(), path.string());
}

EnvMap MergeEnvironment(const EnvMap& dotenv, char** environ) {
  EnvMap merged = dotenv;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view kv(*entry);
    const std::size_t eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;  // not NAME=VALUE; ignore
    merged[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  return merged;
}

}  // namespace keycache
