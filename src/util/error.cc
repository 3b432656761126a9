#include "util/error.h"

#include <string>

namespace keycache {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "keycache"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::kOk:
        return "ok";
      case Errc::kBadInput:
        return "bad input";
      case Errc::kNotFound:
        return "not found";
      case Errc::kConflict:
        return "conflict";
      case Errc::kLimitExceeded:
        return "limit exceeded";
      case Errc::kDatabase:
        return "database error";
      case Errc::kTimeout:
        return "timed out";
      case Errc::kUnavailable:
        return "unavailable";
    }
    return "unknown keycache error";
  }
};

}  // namespace

const boost::system::error_category& KeycacheCategory() noexcept {
  static const Category category;  // function-local constant, not mutable global state
  return category;
}

}  // namespace keycache
