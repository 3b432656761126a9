// Boost's assertions in the fuzz build (BOOST_ENABLE_ASSERT_HANDLER, CMakeLists.txt): they abort
// like assert(), except the few known to be wrong upstream, whose code is correct without them.
// Linked into every binary of the fuzz build; stateless.
#include <boost/assert.hpp>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace boost {

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  // Boost.Beast up to 1.85: after a last chunk "0\r\n" that arrived alone, parse_chunk_header
  // asserts that the next put() has at least 5 bytes, though 3 or 4 are handled correctly
  // (need_more). Fixed in Boost 1.86 (boostorg/beast#2861).
  if (std::string_view(expr) == "n >= 5" &&
      std::string_view(file).ends_with("beast/http/impl/basic_parser.ipp")) {
    return;
  }
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file,
                          long line) {
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr, msg);
  std::abort();
}

}  // namespace boost
