#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "store/sqlite_row.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_statement.h"

namespace keycache {
namespace {

constexpr std::string_view kMemoryPath = ":memory:";

std::int64_t ClampToInt64(std::uint64_t v) {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(v, INT64_MAX));
}

// Per-connection settings. busy_timeout comes first so that the WAL switch itself waits for a
// lock held by another process instead of failing at once.
Result<void> Configure(sqlite3* db, Logger& log) {
  constexpr const char* kPragmas[] = {
      "PRAGMA busy_timeout = 5000",
      "PRAGMA journal_mode = WAL",
      "PRAGMA synchronous = NORMAL",
      "PRAGMA foreign_keys = ON",
  };
  for (const char* pragma : kPragmas) {
    int rc = sqlite3_exec(db, pragma, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteError(log, db, rc, "configure");
  }
  return {};
}

}  // namespace

struct SqliteStore::Statements {
  TxnStatements txn;
  SqliteStatement ping;
  SqliteStatement find;
  SqliteStatement count_live;
  SqliteStatement insert;
  SqliteStatement update;
  SqliteStatement revoke;
  SqliteStatement rotate_mark;
  SqliteStatement remove;
  SqliteStatement list_by_owner;
  SqliteStatement top_by_usage;
  SqliteStatement add_usage;
  SqliteStatement count_all;

  int Prepare(sqlite3* db) {
    const std::string cols(kRecordColumns);
    auto select = [&](std::string_view rest) {
      return "SELECT " + cols + " FROM api_keys " + std::string(rest);
    };
    auto returning = [&](std::string_view dml) { return std::string(dml) + " RETURNING " + cols; };
    const std::pair<SqliteStatement*, std::string> all[] = {
        {&ping, "SELECT version FROM schema_version LIMIT 1"},
        {&find, select("WHERE id = ?1")},
        {&count_live, "SELECT COUNT(*) FROM api_keys WHERE owner_id = ?1 AND revoked_at IS NULL"},
        {&insert, "INSERT INTO api_keys (" + cols +
                      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                      " ?15, ?16)"},
        // Each patch field is a (present?, value) pair, so "absent" and "set to NULL" differ.
        {&update, returning("UPDATE api_keys SET"
                            " name = CASE WHEN ?2 THEN ?3 ELSE name END,"
                            " scopes = CASE WHEN ?4 THEN ?5 ELSE scopes END,"
                            " expires_at = CASE WHEN ?6 THEN ?7 ELSE expires_at END,"
                            " enabled = CASE WHEN ?8 THEN ?9 ELSE enabled END,"
                            " metadata = CASE WHEN ?10 THEN ?11 ELSE metadata END,"
                            " updated_at = ?12"
                            " WHERE id = ?1")},
        {&revoke, returning("UPDATE api_keys SET revoked_at = ?2, revoked_reason = ?3,"
                            " updated_at = ?4"
                            " WHERE id = ?1 AND (revoked_at IS NULL OR revoked_at > ?2)")},
        {&rotate_mark, returning("UPDATE api_keys SET revoked_at = ?2, revoked_reason = 'rotated',"
                                 " replaced_by = ?3, updated_at = ?4 WHERE id = ?1")},
        {&remove, returning("DELETE FROM api_keys WHERE id = ?1")},
        {&list_by_owner, select("WHERE owner_id = ?1 ORDER BY created_at DESC, id DESC")},
        {&top_by_usage, select("WHERE revoked_at IS NULL OR revoked_at > ?1"
                               " ORDER BY usage_count DESC, id LIMIT ?2")},
        // SET expressions all see the old row, so last_used_ip compares with the old time.
        // The counter saturates rather than overflow (STRICT would reject the overflow).
        {&add_usage,
         "UPDATE api_keys SET"
         " usage_count = CASE WHEN ?2 > 9223372036854775807 - usage_count"
         "   THEN 9223372036854775807 ELSE usage_count + ?2 END,"
         " last_used_ip = CASE WHEN ?3 > COALESCE(last_used_at, 0) THEN ?4"
         "   ELSE last_used_ip END,"
         " last_used_at = CASE WHEN ?3 > COALESCE(last_used_at, 0) THEN ?3"
         "   ELSE last_used_at END"
         " WHERE id = ?1"},
        {&count_all, "SELECT COUNT(*) FROM api_keys"},
    };
    int rc = txn.Prepare(db);
    for (const auto& [stmt, sql] : all) {
      if (rc != SQLITE_OK) break;
      rc = stmt->Prepare(db, sql);
    }
    return rc;
  }
};

void SqliteStore::DbCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

SqliteStore::SqliteStore(std::unique_ptr<sqlite3, DbCloser> db, std::unique_ptr<Statements> stmts,
                         Logger& log)
    : log_(log), db_(std::move(db)), stmts_(std::move(stmts)) {}

SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, Logger& log) {
  if (path.empty() || path.find('\0') != std::string::npos) {
    // SQLite would silently open a private temporary database for "".
    log.Warn("store_bad_path", {{"path", path}});
    return make_error_code(Errc::kBadInput);
  }
  if (path != kMemoryPath) {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
      log.Warn("store_mkdir_failed", {{"path", parent.string()}, {"error", ec.message()}});
      return make_error_code(Errc::kDatabase);
    }
  }

  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE, nullptr);
  std::unique_ptr<sqlite3, DbCloser> db(raw);  // a handle is returned even when open fails
  if (rc != SQLITE_OK) return SqliteError(log, raw, rc, "open");
  sqlite3_extended_result_codes(raw, 1);  // to tell a duplicate id from other constraints

  if (auto r = Configure(raw, log); !r) return r.error();
  if (auto r = MigrateSqliteSchema(raw, log); !r) return r.error();
  auto stmts = std::make_unique<Statements>();
  if (rc = stmts->Prepare(raw); rc != SQLITE_OK) return SqliteError(log, raw, rc, "prepare");

  log.Info("store_opened", {{"path", path}});
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(db), std::move(stmts), log));
}

Result<std::string> SqliteStore::ParseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "sqlite:";
  if (!url.starts_with(kScheme)) return make_error_code(Errc::kBadInput);
  std::string_view rest = url.substr(kScheme.size());
  if (rest == kMemoryPath) return std::string(kMemoryPath);
  if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    // Only an empty authority is meaningful: "sqlite:///abs" names "/abs".
    if (!rest.starts_with('/')) return make_error_code(Errc::kBadInput);
  }
  const bool bad = rest.empty() || rest.starts_with(':') || rest.ends_with('/') ||
                   rest.find_first_of(std::string_view("?#\0", 3)) != std::string_view::npos;
  if (bad) return make_error_code(Errc::kBadInput);
  return std::string(rest);
}

boost::system::error_code SqliteStore::Fail(int rc, std::string_view op) {
  return SqliteError(log_, db_.get(), rc, op);
}

Result<std::optional<KeyRecord>> SqliteStore::QueryOne(SqliteStatement& stmt, std::string_view op) {
  int rc = stmt.Step();
  if (rc == SQLITE_DONE) return std::optional<KeyRecord>();
  if (rc != SQLITE_ROW) return Fail(rc, op);
  Result<KeyRecord> record = ReadRecord(stmt, log_);
  if (!record) return record.error();
  // A RETURNING statement finishes its work only when stepped to the end.
  if (rc = stmt.Drain(); rc != SQLITE_DONE) return Fail(rc, op);
  return std::optional<KeyRecord>(std::move(*record));
}

Result<std::vector<KeyRecord>> SqliteStore::QueryAll(SqliteStatement& stmt, std::string_view op) {
  std::vector<KeyRecord> out;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    Result<KeyRecord> record = ReadRecord(stmt, log_);
    if (!record) return record.error();
    out.push_back(std::move(*record));
  }
  if (rc != SQLITE_DONE) return Fail(rc, op);
  return out;
}

Result<std::optional<KeyRecord>> SqliteStore::FindByIdLocked(KeyId id) {
  StatementScope scope(stmts_->find);
  stmts_->find.BindInt64(1, IdToSql(id));
  return QueryOne(stmts_->find, "find");
}

Result<void> SqliteStore::Ping() {
  std::lock_guard lock(mu_);
  StatementScope scope(stmts_->ping);
  if (int rc = stmts_->ping.Drain(); rc != SQLITE_DONE) return Fail(rc, "ping");
  return {};
}

Result<std::optional<KeyRecord>> SqliteStore::FindById(KeyId id) {
  std::lock_guard lock(mu_);
  return FindByIdLocked(id);
}

Result<void> SqliteStore::Insert(const KeyRecord& record, std::size_t max_live_keys) {
  if (!ScopesEncodable(record.scopes)) return make_error_code(Errc::kBadInput);
  std::lock_guard lock(mu_);
  SqliteTransaction txn(db_.get(), stmts_->txn);
  if (int rc = txn.Begin(); rc != SQLITE_OK) return Fail(rc, "insert_begin");
  {
    SqliteStatement& s = stmts_->count_live;
    StatementScope scope(s);
    s.BindText(1, record.owner_id);
    if (int rc = s.Step(); rc != SQLITE_ROW) return Fail(rc, "insert_count");
    if (static_cast<std::uint64_t>(s.ColumnInt64(0)) >= max_live_keys) {
      return make_error_code(Errc::kLimitExceeded);
    }
  }
  {
    SqliteStatement& s = stmts_->insert;
    StatementScope scope(s);
    BindRecord(s, 1, record);
    if (int rc = s.Step(); rc != SQLITE_DONE) return Fail(rc, "insert");
  }
  if (int rc = txn.Commit(); rc != SQLITE_OK) return Fail(rc, "insert_commit");
  return {};
}

Result<KeyRecord> SqliteStore::Update(KeyId id, const KeyPatch& patch, TimeMs now) {
  if (patch.scopes && !ScopesEncodable(*patch.scopes)) return make_error_code(Errc::kBadInput);
  std::lock_guard lock(mu_);
  SqliteStatement& s = stmts_->update;
  StatementScope scope(s);
  s.BindInt64(1, IdToSql(id));
  s.BindInt64(2, patch.name.has_value());
  if (patch.name) s.BindText(3, *patch.name);
  s.BindInt64(4, patch.scopes.has_value());
  if (patch.scopes) s.BindText(5, EncodeScopes(*patch.scopes));
  s.BindInt64(6, patch.expires_at.has_value());
  if (patch.expires_at) BindInt64OrNull(s, 7, *patch.expires_at, kNever);
  s.BindInt64(8, patch.enabled.has_value());
  if (patch.enabled) s.BindInt64(9, *patch.enabled ? 1 : 0);
  s.BindInt64(10, patch.metadata_json.has_value());
  if (patch.metadata_json) s.BindTextOrNull(11, *patch.metadata_json);
  s.BindInt64(12, now);
  Result<std::optional<KeyRecord>> row = QueryOne(s, "update");
  if (!row) return row.error();
  if (!*row) return make_error_code(Errc::kNotFound);
  return std::move(**row);
}

Result<KeyRecord> SqliteStore::Revoke(KeyId id, TimeMs at, std::string_view reason, TimeMs now) {
  if (at == kNever) return make_error_code(Errc::kBadInput);
  std::lock_guard lock(mu_);
  SqliteTransaction txn(db_.get(), stmts_->txn);
  if (int rc = txn.Begin(); rc != SQLITE_OK) return Fail(rc, "revoke_begin");
  Result<std::optional<KeyRecord>> row;
  {
    SqliteStatement& s = stmts_->revoke;
    StatementScope scope(s);
    s.BindInt64(1, IdToSql(id));
    s.BindInt64(2, at);
    s.BindTextOrNull(3, reason);
    s.BindInt64(4, now);
    row = QueryOne(s, "revoke");
  }
  // No row updated: either there is no such key, or it was already revoked at or before `at`.
  if (row && !*row) row = FindByIdLocked(id);
  if (!row) return row.error();
  if (!*row) return make_error_code(Errc::kNotFound);
  if (int rc = txn.Commit(); rc != SQLITE_OK) return Fail(rc, "revoke_commit");
  return std::move(**row);
}

Result<KeyRecord> SqliteStore::Rotate(KeyId old_id, const KeyRecord& replacement,
                                      TimeMs old_revoked_at, TimeMs now) {
  if (old_revoked_at == kNever || !ScopesEncodable(replacement.scopes)) {
    return make_error_code(Errc::kBadInput);
  }
  std::lock_guard lock(mu_);
  SqliteTransaction txn(db_.get(), stmts_->txn);
  if (int rc = txn.Begin(); rc != SQLITE_OK) return Fail(rc, "rotate_begin");
  Result<std::optional<KeyRecord>> old = FindByIdLocked(old_id);
  if (!old) return old.error();
  if (!*old) return make_error_code(Errc::kNotFound);
  if ((*old)->revoked_at != kNever) return make_error_code(Errc::kConflict);
  {
    SqliteStatement& s = stmts_->insert;
    StatementScope scope(s);
    BindRecord(s, 1, replacement);
    if (int rc = s.Step(); rc != SQLITE_DONE) return Fail(rc, "rotate_insert");
  }
  Result<std::optional<KeyRecord>> marked;
  {
    SqliteStatement& s = stmts_->rotate_mark;
    StatementScope scope(s);
    s.BindInt64(1, IdToSql(old_id));
    s.BindInt64(2, old_revoked_at);
    s.BindInt64(3, IdToSql(replacement.id));
    s.BindInt64(4, now);
    marked = QueryOne(s, "rotate_mark");
  }
  if (!marked) return marked.error();
  if (!*marked) return make_error_code(Errc::kNotFound);  // unreachable inside the transaction
  if (int rc = txn.Commit(); rc != SQLITE_OK) return Fail(rc, "rotate_commit");
  return std::move(**marked);
}

Result<KeyRecord> SqliteStore::Delete(KeyId id) {
  std::lock_guard lock(mu_);
  SqliteStatement& s = stmts_->remove;
  StatementScope scope(s);
  s.BindInt64(1, IdToSql(id));
  Result<std::optional<KeyRecord>> row = QueryOne(s, "delete");
  if (!row) return row.error();
  if (!*row) return make_error_code(Errc::kNotFound);
  return std::move(**row);
}

Result<std::vector<KeyRecord>> SqliteStore::ListByOwner(std::string_view owner_id) {
  std::lock_guard lock(mu_);
  SqliteStatement& s = stmts_->list_by_owner;
  StatementScope scope(s);
  s.BindText(1, owner_id);
  return QueryAll(s, "list_by_owner");
}

Result<std::vector<KeyRecord>> SqliteStore::TopByUsage(std::size_t limit, TimeMs now) {
  std::lock_guard lock(mu_);
  SqliteStatement& s = stmts_->top_by_usage;
  StatementScope scope(s);
  s.BindInt64(1, now);
  s.BindInt64(2, ClampToInt64(limit));
  return QueryAll(s, "top_by_usage");
}

Result<void> SqliteStore::AddUsage(std::span<const UsageDelta> deltas) {
  if (deltas.empty()) return {};
  std::lock_guard lock(mu_);
  SqliteTransaction txn(db_.get(), stmts_->txn);
  if (int rc = txn.Begin(); rc != SQLITE_OK) return Fail(rc, "add_usage_begin");
  SqliteStatement& s = stmts_->add_usage;
  for (const UsageDelta& d : deltas) {
    StatementScope scope(s);
    s.BindInt64(1, IdToSql(d.id));
    s.BindInt64(2, ClampToInt64(d.count));
    s.BindInt64(3, d.last_used_at);
    s.BindTextOrNull(4, d.last_used_ip);
    // An id that no longer exists updates no row: the delta is dropped, as documented.
    if (int rc = s.Step(); rc != SQLITE_DONE) return Fail(rc, "add_usage");
  }
  if (int rc = txn.Commit(); rc != SQLITE_OK) return Fail(rc, "add_usage_commit");
  return {};
}

Result<std::uint64_t> SqliteStore::CountKeys() {
  std::lock_guard lock(mu_);
  SqliteStatement& s = stmts_->count_all;
  StatementScope scope(s);
  if (int rc = s.Step(); rc != SQLITE_ROW) return Fail(rc, "count_keys");
  return static_cast<std::uint64_t>(s.ColumnInt64(0));
}

}  // namespace keycache
