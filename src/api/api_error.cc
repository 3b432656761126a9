#include "api/api_error.h"

#include <string>

namespace keycache {

ApiError FromServiceError(const boost::system::error_code& ec, std::string_view what) {
  if (ec == Errc::kNotFound) return {404, "not_found", std::string(what) + " not found"};
  if (ec == Errc::kLimitExceeded) {
    return {409, "key_limit_exceeded", "the owner already has the maximum number of live keys"};
  }
  if (ec == Errc::kConflict)
    return {409, "conflict", std::string(what) + " is in a conflicting state"};
  if (ec == Errc::kBadInput) return {400, "invalid_request", "the request was refused"};
  if (ec == Errc::kTimeout) return {503, "timeout", "the database did not answer in time"};
  return {503, "unavailable", "the database is unavailable"};
}

}  // namespace keycache
