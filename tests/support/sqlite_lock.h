// SqliteWriteLock: holds a SQLite database write-locked from the test process (BEGIN IMMEDIATE
// on a connection of its own), the way a long migration or a stuck writer would: every other
// writer waits (busy_timeout) and then fails with SQLITE_BUSY; WAL readers go on. Not
// thread-safe: one thread drives an object.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

struct sqlite3;

namespace keycache::testing {

class SqliteWriteLock {
 public:
  // `database` must exist (it is opened read-write, never created).
  explicit SqliteWriteLock(std::filesystem::path database);
  ~SqliteWriteLock();  // Release()s
  SqliteWriteLock(const SqliteWriteLock&) = delete;
  SqliteWriteLock& operator=(const SqliteWriteLock&) = delete;

  // Takes the write lock, waiting up to `wait` for writers already inside a transaction.
  ::testing::AssertionResult Acquire(std::chrono::milliseconds wait = std::chrono::seconds(10));
  // Ends the transaction (ROLLBACK: it wrote nothing) and closes the connection. Idempotent.
  void Release();
  bool held() const { return db_ != nullptr; }

 private:
  const std::filesystem::path path_;
  sqlite3* db_ = nullptr;
};

}  // namespace keycache::testing
