// Versioned schema migrations for the SQLite store. Call once per connection, before use;
// not thread-safe (the connection must not be shared yet).
#pragma once

#include <sqlite3.h>

#include "util/error.h"
#include "util/log.h"

namespace keycache {

// The schema version this build writes and understands.
inline constexpr int kSqliteSchemaVersion = 2;

// Brings the database up to kSqliteSchemaVersion inside one write transaction, so two processes
// opening a fresh file at once apply each migration exactly once. Idempotent. Fails with
// Errc::kDatabase if the file was written by a newer build (its version is higher than ours).
Result<void> MigrateSqliteSchema(sqlite3* db, Logger& log);

}  // namespace keycache
