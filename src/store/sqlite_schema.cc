#include "store/sqlite_schema.h"

#include <iterator>
#include <string>

#include "store/sqlite_statement.h"

namespace keycache {
namespace {

struct Migration {
  int version;
  const char* sql;
};

// Append only: a released migration is never edited, a change is a new version.
//
// Design notes for version 1:
// - STRICT enforces the column types, so an arithmetic overflow can never turn a counter into a
//   REAL silently; the CHECKs keep rows decodable into a KeyRecord.
// - NULL stands for "none" in expires_at/revoked_at (kNever), last_used_at (0), replaced_by (0).
// - replaced_by has no foreign key: it records history, and the replacement may be deleted
//   without rewriting (or being blocked by) the key it replaced.
// - There is no column for a plaintext key; only HMAC-SHA256(pepper, key) is ever stored.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE api_keys (
  id             INTEGER PRIMARY KEY,
  owner_id       TEXT    NOT NULL,
  name           TEXT    NOT NULL,
  scopes         TEXT    NOT NULL,
  key_hash       BLOB    NOT NULL CHECK (length(key_hash) = 32),
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  expires_at     INTEGER,
  revoked_at     INTEGER,
  revoked_reason TEXT,
  enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  replaced_by    INTEGER,
  last_used_at   INTEGER,
  last_used_ip   TEXT,
  usage_count    INTEGER NOT NULL DEFAULT 0 CHECK (usage_count >= 0),
  metadata       TEXT
) STRICT;
CREATE INDEX api_keys_owner_created ON api_keys (owner_id, created_at DESC);
CREATE INDEX api_keys_usage ON api_keys (usage_count DESC);
)sql"},
    // Version 2: tagged keys (docs/adr/0006-tagged-keys.md). Every key stored before is legacy;
    // a partial index holds exactly those ids, so the service can load them cheaply.
    {2, R"sql(
ALTER TABLE api_keys ADD COLUMN key_format INTEGER NOT NULL DEFAULT 1
  CHECK (key_format IN (1, 2));
CREATE INDEX api_keys_legacy ON api_keys (id) WHERE key_format = 1;
)sql"},
};
static_assert(std::size(kMigrations) == kSqliteSchemaVersion &&
              kMigrations[std::size(kMigrations) - 1].version == kSqliteSchemaVersion);

Result<void> Exec(sqlite3* db, const char* sql, Logger& log, std::string_view op) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(log, db, rc, op);
  return {};
}

Result<int> CurrentVersion(sqlite3* db, Logger& log) {
  SqliteStatement stmt;
  int rc = stmt.Prepare(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
  if (rc != SQLITE_OK) return SqliteError(log, db, rc, "schema_read_version");
  rc = stmt.Step();
  if (rc != SQLITE_ROW) return SqliteError(log, db, rc, "schema_read_version");
  return static_cast<int>(stmt.ColumnInt64(0));
}

Result<void> ApplyPending(sqlite3* db, Logger& log) {
  if (auto r = Exec(db,
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    " version INTEGER PRIMARY KEY,"
                    " applied_at INTEGER NOT NULL) STRICT",
                    log, "schema_create_version_table");
      !r) {
    return r;
  }
  Result<int> current = CurrentVersion(db, log);
  if (!current) return current.error();
  if (*current > kSqliteSchemaVersion) {
    log.Warn("store_schema_too_new", {{"found", std::to_string(*current)},
                                      {"supported", std::to_string(kSqliteSchemaVersion)}});
    return make_error_code(Errc::kDatabase);
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= *current) continue;
    if (auto r = Exec(db, m.sql, log, "schema_migrate"); !r) return r;
    std::string record = "INSERT INTO schema_version (version, applied_at) VALUES (" +
                         std::to_string(m.version) +
                         ", CAST(strftime('%s', 'now') AS INTEGER) * 1000)";
    if (auto r = Exec(db, record.c_str(), log, "schema_record_version"); !r) return r;
    log.Info("store_schema_migrated", {{"version", std::to_string(m.version)}});
  }
  return {};
}

}  // namespace

Result<void> MigrateSqliteSchema(sqlite3* db, Logger& log) {
  // DDL is transactional in SQLite: a failed migration leaves the previous version intact.
  if (auto r = Exec(db, "BEGIN IMMEDIATE", log, "schema_begin"); !r) return r;
  Result<void> applied = ApplyPending(db, log);
  if (applied) applied = Exec(db, "COMMIT", log, "schema_commit");
  if (!applied && sqlite3_get_autocommit(db) == 0) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  return applied;
}

}  // namespace keycache
