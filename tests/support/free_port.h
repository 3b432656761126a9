// FreeLoopbackPort: a TCP port on 127.0.0.1 that nothing listens on right now (bind to port 0,
// read what the kernel chose, release it). Used both for servers the tests start and for
// addresses that must refuse connections. Thread-safe.
#pragma once

#include <cstdint>

namespace keycache::testing {

// 0 when no socket could be made.
std::uint16_t FreeLoopbackPort();

}  // namespace keycache::testing
