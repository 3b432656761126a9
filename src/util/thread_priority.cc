#include "util/thread_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace keycache {

namespace {

id_t ThisThreadId() { return static_cast<id_t>(::syscall(SYS_gettid)); }

}  // namespace

Result<void> SetThisThreadNice(int nice) {
  if (nice < kMinNice || nice > kMaxNice) return make_error_code(Errc::kBadInput);
  // PRIO_PROCESS with a thread id names that thread alone (Linux; see setpriority(2), BUGS).
  if (::setpriority(PRIO_PROCESS, ThisThreadId(), nice) != 0) {
    return boost::system::error_code(errno, boost::system::system_category());
  }
  return {};
}

int ThisThreadNice() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, ThisThreadId());
}

}  // namespace keycache
