// FUZZ_CHECK(condition): a property a fuzz target asserts. On failure it prints the condition
// and aborts, which libFuzzer reports as a crash and saves the input as a reproducer. Unlike
// assert() it is never compiled out. Stateless; safe from any thread.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace keycache::fuzz {

[[noreturn]] inline void PropertyFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", file, line, condition);
  std::abort();
}

}  // namespace keycache::fuzz

#define FUZZ_CHECK(condition)                                                           \
  do {                                                                                  \
    if (!(condition)) ::keycache::fuzz::PropertyFailed(#condition, __FILE__, __LINE__); \
  } while (false)
