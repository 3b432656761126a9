// Checked invariants. KC_CHECK(cond) is always on: the code relies on `cond` and continuing without
// it would corrupt state or answer wrongly, so a failure logs the condition with its place and
// aborts. KC_DCHECK(cond) documents a precondition that is too costly to test on every call in
// production; it runs in builds with KEYCACHE_DCHECK defined (the debug and asan presets, which CI
// runs) and compiles to nothing otherwise, without evaluating `cond`.
// Likely failures (bad input, a dependency down) are values (util/error.h), never checks.
#pragma once

namespace keycache::check_internal {

[[noreturn]] void CheckFailed(const char* condition, const char* file, int line,
                              const char* message) noexcept;

}  // namespace keycache::check_internal

#define KC_CHECK(cond)                                                             \
  do {                                                                             \
    if (!(cond)) [[unlikely]] {                                                    \
      ::keycache::check_internal::CheckFailed(#cond, __FILE__, __LINE__, nullptr); \
    }                                                                              \
  } while (false)

#define KC_CHECK_MSG(cond, message)                                                  \
  do {                                                                               \
    if (!(cond)) [[unlikely]] {                                                      \
      ::keycache::check_internal::CheckFailed(#cond, __FILE__, __LINE__, (message)); \
    }                                                                                \
  } while (false)

#if defined(KEYCACHE_DCHECK)
#define KC_DCHECK(cond) KC_CHECK(cond)
#define KC_DCHECK_IS_ON() true
#else
#define KC_DCHECK(cond) \
  do {                  \
    if (false) {        \
      (void)(cond);     \
    }                   \
  } while (false)
#define KC_DCHECK_IS_ON() false
#endif
