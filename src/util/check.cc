#include "util/check.h"

#include <cstdio>
#include <cstdlib>

namespace keycache::check_internal {

void CheckFailed(const char* condition, const char* file, int line, const char* message) noexcept {
  // stderr directly: the logger may be the broken part, and this must not allocate.
  std::fprintf(stderr, "keycached: invariant violated at %s:%d: %s%s%s\n", file, line, condition,
               message ? " — " : "", message ? message : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace keycache::check_internal
