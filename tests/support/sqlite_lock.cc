#include "support/sqlite_lock.h"

#include <sqlite3.h>

namespace keycache::testing {

SqliteWriteLock::SqliteWriteLock(std::filesystem::path database) : path_(std::move(database)) {}

SqliteWriteLock::~SqliteWriteLock() { Release(); }

::testing::AssertionResult SqliteWriteLock::Acquire(std::chrono::milliseconds wait) {
  if (db_ != nullptr) return ::testing::AssertionFailure() << "already held";
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(db, static_cast<int>(wait.count()));
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    ::testing::AssertionResult failure = ::testing::AssertionFailure()
                                         << "cannot write-lock " << path_ << ": "
                                         << (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return failure;
  }
  db_ = db;
  return ::testing::AssertionSuccess();
}

void SqliteWriteLock::Release() {
  if (db_ == nullptr) return;
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close_v2(db_);
  db_ = nullptr;
}

}  // namespace keycache::testing
