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

// The reads every connection prepares (the write connection reads inside its transactions).
struct ReadStatements {
  SqliteStatement ping;
  SqliteStatement find;
  SqliteStatement list_by_owner;
  SqliteStatement top_by_usage;
  SqliteStatement count_all;
  SqliteStatement legacy_ids;

  int Prepare(sqlite3* db) {
    auto select = [](std::string_view rest) {
      return "SELECT " + std::string(kRecordColumns) + " FROM api_keys " + std::string(rest);
    };
    const std::pair<SqliteStatement*, std::string> all[] = {
        {&ping, "SELECT version FROM schema_version LIMIT 1"},
        {&find, select("WHERE id = ?1")},
        {&list_by_owner, select("WHERE owner_id = ?1 ORDER BY created_at DESC, id DESC")},
        {&top_by_usage, select("WHERE revoked_at IS NULL OR revoked_at > ?1"
                               " ORDER BY usage_count DESC, id LIMIT ?2")},
        {&count_all, "SELECT COUNT(*) FROM api_keys"},
        {&legacy_ids, "SELECT id FROM api_keys WHERE key_format = 1 ORDER BY id"},
    };
    for (const auto& [stmt, sql] : all) {
      if (int rc = stmt->Prepare(db, sql); rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
  }
};

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

}  // namespace

struct SqliteStore::Connection {
  std::mutex mu;
  // Declared so that the statements are finalized before the connection closes.
  std::unique_ptr<sqlite3, DbCloser> db;
  ReadStatements reads;  // guarded by mu
};

struct SqliteStore::WriteStatements {
  TxnStatements txn;
  SqliteStatement count_live;
  SqliteStatement insert;
  SqliteStatement update;
  SqliteStatement revoke;
  SqliteStatement rotate_mark;
  SqliteStatement remove;
  SqliteStatement add_usage;

  int Prepare(sqlite3* db) {
    const std::string cols(kRecordColumns);
    auto returning = [&](std::string_view dml) { return std::string(dml) + " RETURNING " + cols; };
    const std::pair<SqliteStatement*, std::string> all[] = {
        {&count_live, "SELECT COUNT(*) FROM api_keys WHERE owner_id = ?1 AND revoked_at IS NULL"},
        {&insert, "INSERT INTO api_keys (" + cols +
                      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                      " ?15, ?16, ?17)"},
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
    };
    int rc = txn.Prepare(db);
    for (const auto& [stmt, sql] : all) {
      if (rc != SQLITE_OK) break;
      rc = stmt->Prepare(db, sql);
    }
    return rc;
  }
};

class SqliteStore::ReadLease {
 public:
  ReadLease(Connection& c, std::unique_lock<std::mutex> lock) : c_(c), lock_(std::move(lock)) {}
  Connection& connection() const { return c_; }
  ReadStatements& reads() const { return c_.reads; }

 private:
  Connection& c_;
  std::unique_lock<std::mutex> lock_;
};

SqliteStore::SqliteStore(std::unique_ptr<Connection> writer,
                         std::unique_ptr<WriteStatements> writes,
                         std::vector<std::unique_ptr<Connection>> readers, Logger& log)
    : log_(log),
      writer_(std::move(writer)),
      writes_(std::move(writes)),
      readers_(std::move(readers)) {}

SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, Logger& log,
                                                       SqliteStoreOptions options) {
  if (path.empty() || path.find('\0') != std::string::npos) {
    // SQLite would silently open a private temporary database for "".
    log.Warn("store_bad_path", {{"path", path}});
    return make_error_code(Errc::kBadInput);
  }
  if (options.readers < 0 || options.reader_cache_kib < 0) return make_error_code(Errc::kBadInput);
  if (path != kMemoryPath) {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
      log.Warn("store_mkdir_failed", {{"path", parent.string()}, {"error", ec.message()}});
      return make_error_code(Errc::kDatabase);
    }
  }

  auto writer = std::make_unique<Connection>();
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE, nullptr);
  writer->db.reset(raw);  // a handle is returned even when open fails
  if (rc != SQLITE_OK) return SqliteError(log, raw, rc, "open");
  sqlite3_extended_result_codes(raw, 1);  // to tell a duplicate id from other constraints

  if (auto r = Configure(raw, log); !r) return r.error();
  if (auto r = MigrateSqliteSchema(raw, log); !r) return r.error();
  auto writes = std::make_unique<WriteStatements>();
  if (rc = writes->Prepare(raw); rc != SQLITE_OK) return SqliteError(log, raw, rc, "prepare");
  if (rc = writer->reads.Prepare(raw); rc != SQLITE_OK) return SqliteError(log, raw, rc, "prepare");

  // Readers open the file the writer has just created, migrated and switched to WAL (a mode
  // the file keeps), so they only need to wait on locks and promise not to write.
  std::vector<std::unique_ptr<Connection>> readers;
  const int reader_count = path == kMemoryPath ? 0 : options.readers;
  for (int i = 0; i < reader_count; ++i) {
    auto reader = std::make_unique<Connection>();
    raw = nullptr;
    rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READWRITE, nullptr);
    reader->db.reset(raw);
    if (rc != SQLITE_OK) return SqliteError(log, raw, rc, "open_reader");
    sqlite3_extended_result_codes(raw, 1);
    const std::string cache = "PRAGMA cache_size = -" + std::to_string(options.reader_cache_kib);
    for (const char* pragma :
         {"PRAGMA busy_timeout = 5000", "PRAGMA query_only = ON", cache.c_str()}) {
      if (rc = sqlite3_exec(raw, pragma, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
        return SqliteError(log, raw, rc, "configure_reader");
      }
    }
    if (rc = reader->reads.Prepare(raw); rc != SQLITE_OK) {
      return SqliteError(log, raw, rc, "prepare_reader");
    }
    readers.push_back(std::move(reader));
  }

  log.Info("store_opened", {{"path", path}, {"readers", std::to_string(readers.size())}});
  return std::unique_ptr<SqliteStore>(
      new SqliteStore(std::move(writer), std::move(writes), std::move(readers), log));
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

SqliteStore::ReadLease SqliteStore::Read() {
  if (readers_.empty()) return ReadLease(*writer_, std::unique_lock(writer_->mu));
  const std::size_t n = readers_.size();
  const std::size_t start = next_reader_.fetch_add(1, std::memory_order_relaxed) % n;
  for (std::size_t i = 0; i < n; ++i) {
    Connection& c = *readers_[(start + i) % n];
    std::unique_lock lock(c.mu, std::try_to_lock);
    if (lock.owns_lock()) return ReadLease(c, std::move(lock));
  }
  return ReadLease(*readers_[start], std::unique_lock(readers_[start]->mu));
}

boost::system::error_code SqliteStore::Fail(Connection& c, int rc, std::string_view op) {
  return SqliteError(log_, c.db.get(), rc, op);
}

Result<std::optional<KeyRecord>> SqliteStore::QueryOne(Connection& c, SqliteStatement& stmt,
                                                       std::string_view op) {
  int rc = stmt.Step();
  if (rc == SQLITE_DONE) return std::optional<KeyRecord>();
  if (rc != SQLITE_ROW) return Fail(c, rc, op);
  Result<KeyRecord> record = ReadRecord(stmt, log_);
  if (!record) return record.error();
  // A RETURNING statement finishes its work only when stepped to the end.
  if (rc = stmt.Drain(); rc != SQLITE_DONE) return Fail(c, rc, op);
  return std::optional<KeyRecord>(std::move(*record));
}

Result<std::vector<KeyRecord>> SqliteStore::QueryAll(Connection& c, SqliteStatement& stmt,
                                                     std::string_view op) {
  std::vector<KeyRecord> out;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    Result<KeyRecord> record = ReadRecord(stmt, log_);
    if (!record) return record.error();
    out.push_back(std::move(*record));
  }
  if (rc != SQLITE_DONE) return Fail(c, rc, op);
  return out;
}

Result<std::optional<KeyRecord>> SqliteStore::FindOn(Connection& c, KeyId id) {
  SqliteStatement& s = c.reads.find;
  StatementScope scope(s);
  s.BindInt64(1, IdToSql(id));
  return QueryOne(c, s, "find");
}

Result<void> SqliteStore::Ping() {
  ReadLease lease = Read();
  SqliteStatement& s = lease.reads().ping;
  StatementScope scope(s);
  if (int rc = s.Drain(); rc != SQLITE_DONE) return Fail(lease.connection(), rc, "ping");
  return {};
}

Result<std::optional<KeyRecord>> SqliteStore::FindById(KeyId id) {
  ReadLease lease = Read();
  return FindOn(lease.connection(), id);
}

Result<void> SqliteStore::Insert(const KeyRecord& record, std::size_t max_live_keys) {
  if (!ScopesEncodable(record.scopes)) return make_error_code(Errc::kBadInput);
  std::lock_guard lock(writer_->mu);
  SqliteTransaction txn(writer_->db.get(), writes_->txn);
  if (int rc = txn.Begin(); rc != SQLITE_OK) return Fail(*writer_, rc, "insert_begin");
  {
    SqliteStatement& s = writes_->count_live;
    StatementScope scope(s);
    s.BindText(1, record.owner_id);
    if (int rc = s.Step(); rc != SQLITE_ROW) return Fail(*writer_, rc, "insert_count");
    if (static_cast<std::uint64_t>(s.ColumnInt64(0)) >= max_live_keys) {
      return make_error_code(Errc::kLimitExceeded);
    }
  }
  {
    SqliteStatement& s = writes_->insert;
    StatementScope scope(s);
    BindRecord(s, 1, record);
    if (int rc = s.Step(); rc != SQLITE_DONE) return Fail(*writer_, rc, "insert");
  }
  if (int rc = txn.Commit(); rc != SQLITE_OK) return Fail(*writer_, rc, "insert_commit");
  return {};
}

Result<KeyRecord> SqliteStore::Update(KeyId id, const KeyPatch& patch, TimeMs now) {
  if (patch.scopes && !ScopesEncodable(*patch.scopes)) return make_error_code(Errc::kBadInput);
  std::lock_guard lock(writer_->mu);
  SqliteStatement& s = writes_->update;
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
  Result<std::optional<KeyRecord>> row = QueryOne(*writer_, s, "update");
  if (!row) return row.error();
  if (!*row) return make_error_code(Errc::kNotFound);
  return std::move(**row);
}

Result<KeyRecord> SqliteStore::Revoke(KeyId id, TimeMs at, std::string_view reason, TimeMs now) {
  if (at == kNever) return make_error_code(Errc::kBadInput);
  std::lock_guard lock(writer_->mu);
  SqliteTransaction txn(writer_->db.get(), writes_->txn);
  if (int rc = txn.Begin(); rc != SQLITE_OK) return Fail(*writer_, rc, "revoke_begin");
  Result<std::optional<KeyRecord>> row;
  {
    SqliteStatement& s = writes_->revoke;
    StatementScope scope(s);
    s.BindInt64(1, IdToSql(id));
    s.BindInt64(2, at);
    s.BindTextOrNull(3, reason);
    s.BindInt64(4, now);
    row = QueryOne(*writer_, s, "revoke");
  }
  // No row updated: either there is no such key, or it was already revoked at or before `at`.
  if (row && !*row) row = FindOn(*writer_, id);
  if (!row) return row.error();
  if (!*row) return make_error_code(Errc::kNotFound);
  if (int rc = txn.Commit(); rc != SQLITE_OK) return Fail(*writer_, rc, "revoke_commit");
  return std::move(**row);
}

Result<KeyRecord> SqliteStore::Rotate(KeyId old_id, const KeyRecord& replacement,
                                      TimeMs old_revoked_at, TimeMs now) {
  if (old_revoked_at == kNever || !ScopesEncodable(replacement.scopes)) {
    return make_error_code(Errc::kBadInput);
  }
  std::lock_guard lock(writer_->mu);
  SqliteTransaction txn(writer_->db.get(), writes_->txn);
  if (int rc = txn.Begin(); rc != SQLITE_OK) return Fail(*writer_, rc, "rotate_begin");
  Result<std::optional<KeyRecord>> old = FindOn(*writer_, old_id);
  if (!old) return old.error();
  if (!*old) return make_error_code(Errc::kNotFound);
  if ((*old)->revoked_at != kNever) return make_error_code(Errc::kConflict);
  {
    SqliteStatement& s = writes_->insert;
    StatementScope scope(s);
    BindRecord(s, 1, replacement);
    if (int rc = s.Step(); rc != SQLITE_DONE) return Fail(*writer_, rc, "rotate_insert");
  }
  Result<std::optional<KeyRecord>> marked;
  {
    SqliteStatement& s = writes_->rotate_mark;
    StatementScope scope(s);
    s.BindInt64(1, IdToSql(old_id));
    s.BindInt64(2, old_revoked_at);
    s.BindInt64(3, IdToSql(replacement.id));
    s.BindInt64(4, now);
    marked = QueryOne(*writer_, s, "rotate_mark");
  }
  if (!marked) return marked.error();
  if (!*marked) return make_error_code(Errc::kNotFound);  // unreachable inside the transaction
  if (int rc = txn.Commit(); rc != SQLITE_OK) return Fail(*writer_, rc, "rotate_commit");
  return std::move(**marked);
}

Result<KeyRecord> SqliteStore::Delete(KeyId id) {
  std::lock_guard lock(writer_->mu);
  SqliteStatement& s = writes_->remove;
  StatementScope scope(s);
  s.BindInt64(1, IdToSql(id));
  Result<std::optional<KeyRecord>> row = QueryOne(*writer_, s, "delete");
  if (!row) return row.error();
  if (!*row) return make_error_code(Errc::kNotFound);
  return std::move(**row);
}

Result<std::vector<KeyRecord>> SqliteStore::ListByOwner(std::string_view owner_id) {
  ReadLease lease = Read();
  SqliteStatement& s = lease.reads().list_by_owner;
  StatementScope scope(s);
  s.BindText(1, owner_id);
  return QueryAll(lease.connection(), s, "list_by_owner");
}

Result<std::vector<KeyRecord>> SqliteStore::TopByUsage(std::size_t limit, TimeMs now) {
  ReadLease lease = Read();
  SqliteStatement& s = lease.reads().top_by_usage;
  StatementScope scope(s);
  s.BindInt64(1, now);
  s.BindInt64(2, ClampToInt64(limit));
  return QueryAll(lease.connection(), s, "top_by_usage");
}

Result<void> SqliteStore::AddUsage(std::span<const UsageDelta> deltas) {
  if (deltas.empty()) return {};
  std::lock_guard lock(writer_->mu);
  SqliteTransaction txn(writer_->db.get(), writes_->txn);
  if (int rc = txn.Begin(); rc != SQLITE_OK) return Fail(*writer_, rc, "add_usage_begin");
  SqliteStatement& s = writes_->add_usage;
  for (const UsageDelta& d : deltas) {
    StatementScope scope(s);
    s.BindInt64(1, IdToSql(d.id));
    s.BindInt64(2, ClampToInt64(d.count));
    s.BindInt64(3, d.last_used_at);
    s.BindTextOrNull(4, d.last_used_ip);
    // An id that no longer exists updates no row: the delta is dropped, as documented.
    if (int rc = s.Step(); rc != SQLITE_DONE) return Fail(*writer_, rc, "add_usage");
  }
  if (int rc = txn.Commit(); rc != SQLITE_OK) return Fail(*writer_, rc, "add_usage_commit");
  return {};
}

Result<std::uint64_t> SqliteStore::CountKeys() {
  ReadLease lease = Read();
  SqliteStatement& s = lease.reads().count_all;
  StatementScope scope(s);
  if (int rc = s.Step(); rc != SQLITE_ROW) return Fail(lease.connection(), rc, "count_keys");
  return static_cast<std::uint64_t>(s.ColumnInt64(0));
}

Result<std::vector<KeyId>> SqliteStore::ListLegacyIds() {
  ReadLease lease = Read();
  SqliteStatement& s = lease.reads().legacy_ids;
  StatementScope scope(s);
  std::vector<KeyId> ids;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) ids.push_back(IdFromSql(s.ColumnInt64(0)));
  if (rc != SQLITE_DONE) return Fail(lease.connection(), rc, "list_legacy_ids");
  // Stored bit-cast into signed integers, so SQLite's order is not KeyId's.
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<std::vector<KeyRecord>> SqliteStore::ExportPage(std::optional<KeyId> after,
                                                       std::size_t limit) {
  ReadLease lease = Read();
  SqliteStatement s;
  const std::string sql = "SELECT " + std::string(kRecordColumns) + " FROM api_keys" +
                          (after ? " WHERE id > ?1" : "") + " ORDER BY id LIMIT ?2";
  if (int rc = s.Prepare(lease.connection().db.get(), sql); rc != SQLITE_OK) {
    return Fail(lease.connection(), rc, "export_prepare");
  }
  if (after) s.BindInt64(1, IdToSql(*after));
  s.BindInt64(2, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
  return QueryAll(lease.connection(), s, "export");
}

Result<ImportCounts> SqliteStore::ImportBatch(std::span<const KeyRecord> records,
                                              bool skip_existing, KeyId& conflict) {
  for (const KeyRecord& r : records) {
    if (!ScopesEncodable(r.scopes)) return make_error_code(Errc::kBadInput);
  }
  std::lock_guard lock(writer_->mu);
  SqliteTransaction txn(writer_->db.get(), writes_->txn);
  if (int rc = txn.Begin(); rc != SQLITE_OK) return Fail(*writer_, rc, "import_begin");
  ImportCounts counts;
  for (const KeyRecord& r : records) {
    Result<std::optional<KeyRecord>> stored = FindOn(*writer_, r.id);
    if (!stored) return stored.error();
    if (*stored) {
      if (!CountStoredId(**stored, r, skip_existing, counts, conflict)) {
        return make_error_code(Errc::kConflict);  // the transaction rolls back
      }
      continue;
    }
    SqliteStatement& s = writes_->insert;
    StatementScope scope(s);
    BindRecord(s, 1, r);
    if (int rc = s.Step(); rc != SQLITE_DONE) return Fail(*writer_, rc, "import_insert");
    ++counts.inserted;
  }
  if (int rc = txn.Commit(); rc != SQLITE_OK) return Fail(*writer_, rc, "import_commit");
  return counts;
}

}  // namespace keycache
