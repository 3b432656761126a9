// SqliteInstanceLock: which keycached processes serve from one SQLite file. An instance whose L1
// hears of no other instance's changes (cache on, no Redis) must be the file's only server, or it
// would answer from its L1 a key that another instance has already revoked, disabled or deleted;
// instances that hear each other's changes (through Redis) or keep no cache may share the file
// with each other, but not with such an instance. The lock is flock(2) on "<database>.instances",
// held for the life of the object; the kernel releases it when the process ends, crash included.
// Processes on one host only (SQLite itself needs a local file system). Not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "util/error.h"

namespace keycache {

class SqliteInstanceLock {
 public:
  enum class Mode {
    kShared,     // this instance shares invalidations (Redis) or keeps no cache
    kExclusive,  // this instance's L1 is coherent only if it is the only writer
  };

  // Errc::kConflict when another process holds the file in an incompatible mode;
  // Errc::kDatabase when the lock file cannot be opened or locked (errno in `detail`).
  static Result<std::unique_ptr<SqliteInstanceLock>> Acquire(const std::string& database_path,
                                                             Mode mode, std::string& detail);

  // The lock file of a database.
  static std::string PathFor(const std::string& database_path) {
    return database_path + ".instances";
  }

  ~SqliteInstanceLock();
  SqliteInstanceLock(const SqliteInstanceLock&) = delete;
  SqliteInstanceLock& operator=(const SqliteInstanceLock&) = delete;

  Mode mode() const { return mode_; }

 private:
  SqliteInstanceLock(int fd, Mode mode) : fd_(fd), mode_(mode) {}

  const int fd_;
  const Mode mode_;
};

}  // namespace keycache
