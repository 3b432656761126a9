#include "store/pg_schema.h"

#include <iterator>
#include <string>

#include "store/pg_row.h"

namespace keycache {
namespace {

struct Migration {
  int version;
  const char* sql;
};

// Append only: a released migration is never edited, a change is a new version.
//
// Version 1 mirrors SQLite's (store/sqlite_schema.cc): NULL stands for "none" in expires_at,
// revoked_at, last_used_at and replaced_by; replaced_by has no foreign key; the CHECKs keep
// rows decodable; only HMAC-SHA256(pepper, key) is stored. Every lookup has an index: id (the
// primary key) for the single-key statements and add_usage's join, (owner_id, created_at, id)
// for the owner list and the owner-limit count, (usage_count DESC, id) for cache warming.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE api_keys (
  id             BIGINT  PRIMARY KEY,
  owner_id       TEXT    NOT NULL,
  name           TEXT    NOT NULL,
  scopes         TEXT    NOT NULL,
  key_hash       BYTEA   NOT NULL CHECK (octet_length(key_hash) = 32),
  created_at     BIGINT  NOT NULL,
  updated_at     BIGINT  NOT NULL,
  expires_at     BIGINT,
  revoked_at     BIGINT,
  revoked_reason TEXT,
  enabled        BOOLEAN NOT NULL DEFAULT TRUE,
  replaced_by    BIGINT,
  last_used_at   BIGINT,
  last_used_ip   TEXT,
  usage_count    BIGINT  NOT NULL DEFAULT 0 CHECK (usage_count >= 0),
  metadata       TEXT
);
CREATE INDEX api_keys_owner_created ON api_keys (owner_id, created_at DESC, id DESC);
CREATE INDEX api_keys_usage ON api_keys (usage_count DESC, id);
)sql"},
    // Version 2: tagged keys (docs/adr/0006-tagged-keys.md). Every key stored before is legacy;
    // a partial index holds exactly those ids, so the service can load them cheaply.
    {2, R"sql(
ALTER TABLE api_keys ADD COLUMN key_format SMALLINT NOT NULL DEFAULT 1
  CHECK (key_format IN (1, 2));
CREATE INDEX api_keys_legacy ON api_keys (id) WHERE key_format = 1;
)sql"},
};
static_assert(std::size(kMigrations) == kPgSchemaVersion &&
              kMigrations[std::size(kMigrations) - 1].version == kPgSchemaVersion);

// The one-key advisory lock every instance takes before it looks at the schema.
constexpr const char* kLockSql = "SELECT pg_advisory_xact_lock(4917245304405426953)";

Result<void> ApplyPending(PgConnection& c, Logger& log, PgDeadline deadline) {
  if (auto r = c.Query(kLockSql, "schema_lock", deadline); !r) return r.error();
  if (auto r = c.Query("CREATE TABLE IF NOT EXISTS schema_version ("
                       " version INTEGER PRIMARY KEY,"
                       " applied_at BIGINT NOT NULL)",
                       "schema_create_version_table", deadline);
      !r) {
    return r.error();
  }
  Result<PgResult> read = c.Query("SELECT COALESCE(MAX(version), 0) FROM schema_version",
                                  "schema_read_version", deadline);
  if (!read) return read.error();
  std::int64_t current = 0;
  if (PQntuples(read->get()) != 1 || !PgInt(read->get(), 0, 0, current)) {
    log.Warn("store_schema_unreadable", {});
    return make_error_code(Errc::kDatabase);
  }
  if (current > kPgSchemaVersion) {
    log.Warn("store_schema_too_new",
             {{"found", std::to_string(current)}, {"supported", std::to_string(kPgSchemaVersion)}});
    return make_error_code(Errc::kDatabase);
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= current) continue;
    if (auto r = c.Query(m.sql, "schema_migrate", deadline); !r) return r.error();
    const std::string record = "INSERT INTO schema_version (version, applied_at) VALUES (" +
                               std::to_string(m.version) +
                               ", (extract(epoch FROM now()) * 1000)::bigint)";
    if (auto r = c.Query(record.c_str(), "schema_record_version", deadline); !r) return r.error();
    log.Info("store_schema_migrated", {{"version", std::to_string(m.version)}});
  }
  return {};
}

}  // namespace

Result<void> MigratePgSchema(PgConnection& c, Logger& log, PgDeadline deadline) {
  // DDL is transactional in PostgreSQL: a failed migration leaves the previous version intact,
  // and the advisory lock is released with the transaction however it ends.
  if (auto r = c.Query("BEGIN", "schema_begin", deadline); !r) return r.error();
  Result<void> applied = ApplyPending(c, log, deadline);
  if (applied) {
    if (auto r = c.Query("COMMIT", "schema_commit", deadline); !r) applied = r.error();
  }
  if (!applied && !c.broken()) c.Query("ROLLBACK", "schema_rollback", deadline);
  return applied;
}

}  // namespace keycache
