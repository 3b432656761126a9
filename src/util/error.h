// The project's error category: expected failures travel as values
// (boost::system::error_code / result<T>), never as exceptions on the request path.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace keycache {

enum class Errc {
  kOk = 0,
  kBadInput,       // the caller sent something we refuse (-> HTTP 400)
  kNotFound,       // no such record (-> 404)
  kConflict,       // uniqueness or state conflict (-> 409)
  kLimitExceeded,  // a configured limit, e.g. keys per owner (-> 409 / 429)
  kDatabase,       // the store failed (-> 503)
  kTimeout,        // a bounded wait ran out (-> 503/504)
  kUnavailable,    // a dependency is down or we are shutting down (-> 503)
};

const boost::system::error_category& KeycacheCategory() noexcept;

inline boost::system::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), KeycacheCategory()};
}

template <class T>
using Result = boost::system::result<T>;

}  // namespace keycache

template <>
struct boost::system::is_error_code_enum<keycache::Errc> : std::true_type {};
