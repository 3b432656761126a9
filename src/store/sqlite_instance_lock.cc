#include "store/sqlite_instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace keycache {

Result<std::unique_ptr<SqliteInstanceLock>> SqliteInstanceLock::Acquire(
    const std::string& database_path, Mode mode, std::string& detail) {
  const std::string path = PathFor(database_path);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    detail = "cannot open " + path + ": " + std::strerror(errno);
    return make_error_code(Errc::kDatabase);
  }
  const int operation = (mode == Mode::kExclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
  int rc;
  do {
    rc = ::flock(fd, operation);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      detail = path + " is held by another keycached process";
      return make_error_code(Errc::kConflict);
    }
    detail = "cannot lock " + path + ": " + std::strerror(err);
    return make_error_code(Errc::kDatabase);
  }
  return std::unique_ptr<SqliteInstanceLock>(new SqliteInstanceLock(fd, mode));
}

SqliteInstanceLock::~SqliteInstanceLock() { ::close(fd_); }  // releases the lock

}  // namespace keycache
