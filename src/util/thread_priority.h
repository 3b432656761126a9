// The scheduling priority of the calling thread. On Linux a thread's nice value is its own (a
// process's threads do not share it), so work that no request waits for, such as writing usage
// counters, can run on a thread that yields the CPU to the I/O threads whenever both want it.
// Raising the nice value needs no privilege; lowering it again does.
#pragma once

#include "util/error.h"

namespace keycache {

inline constexpr int kMinNice = 0;   // the default priority: the nice value of a new process
inline constexpr int kMaxNice = 19;  // the lowest priority

// Sets the calling thread's nice value. Errc::kBadInput outside kMinNice..kMaxNice; the system's
// error when it refuses (lowering the value without CAP_SYS_NICE, say).
Result<void> SetThisThreadNice(int nice);
// The calling thread's nice value.
int ThisThreadNice();

}  // namespace keycache
