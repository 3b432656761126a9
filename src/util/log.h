// A small structured logger: one line per event, "TIME LEVEL event key=value ...", to a FILE*.
// Thread-safe: each line is written with a single fwrite under a mutex. Passed by reference to
// the components that log; there is no global logger.
#pragma once

#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace keycache {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

std::optional<LogLevel> ParseLogLevel(std::string_view text);
std::string_view LogLevelName(LogLevel level);

using LogField = std::pair<std::string_view, std::string_view>;

class Logger {
 public:
  explicit Logger(LogLevel min_level = LogLevel::kInfo, std::FILE* out = stderr)
      : min_level_(min_level), out_(out) {}

  bool Enabled(LogLevel level) const { return level >= min_level_; }
  void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

  void Debug(std::string_view e, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kDebug, e, f);
  }
  void Info(std::string_view e, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kInfo, e, f);
  }
  void Warn(std::string_view e, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kWarn, e, f);
  }
  void Error(std::string_view e, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kError, e, f);
  }

 private:
  const LogLevel min_level_;
  std::FILE* const out_;
  std::mutex mu_;  // serialises writes to out_
};

}  // namespace keycache
