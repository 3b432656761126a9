// ApiError: a refusal the API renders as {"error": code, "message": text} with an HTTP status.
// Parsed<T>: a parsed request body or the ApiError that explains why it was refused.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "util/error.h"

namespace keycache {

struct ApiError {
  unsigned status = 400;
  std::string error;    // stable machine-readable code, e.g. "invalid_request"
  std::string message;  // names the problem for a human
};

inline ApiError BadRequest(std::string message) {
  return {400, "invalid_request", std::move(message)};
}

// Maps a service failure to the response a client should see.
ApiError FromServiceError(const boost::system::error_code& ec, std::string_view what);

template <class T>
class Parsed {
 public:
  Parsed(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Parsed(ApiError error) : error_(std::move(error)) {}  // NOLINT
  bool ok() const { return value_.has_value(); }
  T& value() { return *value_; }
  const ApiError& error() const { return error_; }

 private:
  std::optional<T> value_;
  ApiError error_;
};

}  // namespace keycache
