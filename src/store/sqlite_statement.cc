#include "store/sqlite_statement.h"

#include <string>
#include <utility>

namespace keycache {

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), bind_rc_(other.bind_rc_) {}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_rc_ = other.bind_rc_;
  }
  return *this;
}

int SqliteStatement::Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_finalize(stmt_);
  stmt_ = nullptr;
  bind_rc_ = SQLITE_OK;
  return sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                            &stmt_, nullptr);
}

// SQLITE_TRANSIENT copies the value: bound strings are often temporaries (encoded scopes), and a
// copy of a few dozen bytes is cheaper than reasoning about their lifetime at every call site.
void SqliteStatement::BindInt64(int index, std::int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_, index, value));
}

void SqliteStatement::BindText(int index, std::string_view value) {
  NoteBind(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

void SqliteStatement::BindBlob(int index, std::span<const std::uint8_t> value) {
  NoteBind(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT));
}

void SqliteStatement::BindNull(int index) { NoteBind(sqlite3_bind_null(stmt_, index)); }

void SqliteStatement::BindTextOrNull(int index, std::string_view value) {
  if (value.empty()) {
    BindNull(index);
  } else {
    BindText(index, value);
  }
}

int SqliteStatement::Step() {
  if (bind_rc_ != SQLITE_OK) return bind_rc_;
  return sqlite3_step(stmt_);
}

int SqliteStatement::Drain() {
  int rc = Step();
  while (rc == SQLITE_ROW) rc = Step();
  return rc;
}

void SqliteStatement::Reset() {
  // sqlite3_reset repeats the last step's error, which the caller has already handled.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_rc_ = SQLITE_OK;
}

bool SqliteStatement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t SqliteStatement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string SqliteStatement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  int size = sqlite3_column_bytes(stmt_, column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::span<const std::uint8_t> SqliteStatement::ColumnBlob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  if (data == nullptr) return {};
  int size = sqlite3_column_bytes(stmt_, column);
  return {static_cast<const std::uint8_t*>(data), static_cast<std::size_t>(size)};
}

int TxnStatements::Prepare(sqlite3* db) {
  int rc = begin_immediate.Prepare(db, "BEGIN IMMEDIATE");
  if (rc == SQLITE_OK) rc = commit.Prepare(db, "COMMIT");
  if (rc == SQLITE_OK) rc = rollback.Prepare(db, "ROLLBACK");
  return rc;
}

SqliteTransaction::~SqliteTransaction() {
  // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) roll back by themselves; a second ROLLBACK
  // would only fail, so check whether a transaction is still open.
  if (open_ && sqlite3_get_autocommit(db_) == 0) {
    StatementScope scope(stmts_.rollback);
    stmts_.rollback.Step();
  }
}

int SqliteTransaction::Begin() {
  StatementScope scope(stmts_.begin_immediate);
  int rc = stmts_.begin_immediate.Step();
  if (rc != SQLITE_DONE) return rc;
  open_ = true;
  return SQLITE_OK;
}

int SqliteTransaction::Commit() {
  StatementScope scope(stmts_.commit);
  int rc = stmts_.commit.Step();
  if (rc != SQLITE_DONE) return rc;
  open_ = false;
  return SQLITE_OK;
}

boost::system::error_code SqliteError(Logger& log, sqlite3* db, int rc, std::string_view op) {
  const std::string code = sqlite3_errstr(rc);
  const std::string message = db != nullptr ? sqlite3_errmsg(db) : code;
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
    log.Debug("store_conflict", {{"op", op}, {"sqlite", message}});
    return make_error_code(Errc::kConflict);
  }
  log.Warn("store_sqlite_error",
           {{"op", op}, {"code", code}, {"rc", std::to_string(rc)}, {"sqlite", message}});
  return make_error_code(Errc::kDatabase);
}

}  // namespace keycache
