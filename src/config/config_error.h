// ConfigError: one configuration problem, naming the variable and what it accepts. A plain value
// type; safe to copy between threads.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/throw_exception.hpp>
#include <stdexcept>
#include <string>

namespace keycache {

struct ConfigError {
  std::string variable;  // e.g. "PORT"; for .env syntax errors, the file path
  std::string message;   // e.g. "\"abc\" is not a port; expected an integer 0..65535"

  // "PORT: \"abc\" is not a port; expected an integer 0..65535"
  std::string ToString() const { return variable + ": " + message; }
};

// Lets boost::system::result<T, ConfigError>::value() throw (std::runtime_error) when misused;
// callers are expected to test the result first.
[[noreturn]] inline void throw_exception_from_error(const ConfigError& e,
                                                    const boost::source_location& loc) {
  boost::throw_exception(std::runtime_error(e.ToString()), loc);
}

}  // namespace keycache
