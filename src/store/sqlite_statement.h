// RAII wrappers over the SQLite C API used by SqliteStore: a prepared statement, a scope that
// resets it, and a write transaction. Not thread-safe: the owning store serialises all use.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "util/error.h"
#include "util/log.h"

namespace keycache {

// One prepared statement, finalized on destruction. Binding errors are remembered and returned
// by the next Step(), so call sites bind without checking each result.
class SqliteStatement {
 public:
  SqliteStatement() = default;
  ~SqliteStatement() { sqlite3_finalize(stmt_); }
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Prepared with SQLITE_PREPARE_PERSISTENT: these statements live as long as the connection.
  // Returns the SQLite result code.
  int Prepare(sqlite3* db, std::string_view sql);

  // Indices are 1-based, as in SQLite.
  void BindInt64(int index, std::int64_t value);
  void BindText(int index, std::string_view value);
  void BindBlob(int index, std::span<const std::uint8_t> value);
  void BindNull(int index);
  void BindTextOrNull(int index, std::string_view value);  // "" -> NULL

  // SQLITE_ROW, SQLITE_DONE, or an (extended) error code, including a remembered bind error.
  int Step();
  // Steps until SQLITE_DONE; returns SQLITE_DONE or the first error.
  int Drain();
  // Resets for reuse and clears bindings (which also releases any read snapshot it held).
  void Reset();

  bool IsNull(int column) const;
  std::int64_t ColumnInt64(int column) const;
  std::string ColumnText(int column) const;  // NULL -> ""
  std::span<const std::uint8_t> ColumnBlob(int column) const;

 private:
  void NoteBind(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }

  sqlite3_stmt* stmt_ = nullptr;
  int bind_rc_ = SQLITE_OK;
};

// Resets a cached statement when the scope that used it ends, on every path out of it.
class [[nodiscard]] StatementScope {
 public:
  explicit StatementScope(SqliteStatement& stmt) : stmt_(stmt) {}
  ~StatementScope() { stmt_.Reset(); }
  StatementScope(const StatementScope&) = delete;
  StatementScope& operator=(const StatementScope&) = delete;

 private:
  SqliteStatement& stmt_;
};

// The cached statements that open and close a transaction.
struct TxnStatements {
  SqliteStatement begin_immediate;
  SqliteStatement commit;
  SqliteStatement rollback;

  int Prepare(sqlite3* db);
};

// A write transaction (BEGIN IMMEDIATE, so the write lock is taken before anything is read and
// a read-then-write sequence cannot interleave with another connection's). Rolls back on scope
// exit unless Commit() succeeded.
class [[nodiscard]] SqliteTransaction {
 public:
  SqliteTransaction(sqlite3* db, TxnStatements& stmts) : db_(db), stmts_(stmts) {}
  ~SqliteTransaction();
  SqliteTransaction(const SqliteTransaction&) = delete;
  SqliteTransaction& operator=(const SqliteTransaction&) = delete;

  int Begin();   // SQLITE_OK or an error code
  int Commit();  // SQLITE_OK or an error code; on error the destructor rolls back

 private:
  sqlite3* const db_;
  TxnStatements& stmts_;
  bool open_ = false;
};

// Turns a failed SQLite call into an error value: duplicate keys become Errc::kConflict (an
// expected outcome, logged at debug), everything else Errc::kDatabase, logged at warn with
// SQLite's message. SQLite's messages name columns, never bound values, so no hash is logged.
boost::system::error_code SqliteError(Logger& log, sqlite3* db, int rc, std::string_view op);

}  // namespace keycache
