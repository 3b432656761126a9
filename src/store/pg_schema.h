// The PostgreSQL schema of keycache and its migrations. Safe when several instances start at
// once: migrating runs in one transaction under a cluster-wide advisory lock.
#pragma once

#include "store/pg_connection.h"
#include "util/error.h"
#include "util/log.h"

namespace keycache {

// The schema version this build writes and understands.
inline constexpr int kPgSchemaVersion = 2;

// Creates or upgrades the schema on `c`. Errc::kDatabase (logged) on failure, and when the
// database's schema is newer than this build's (it refuses to run against it); the previous
// version is left intact on failure.
Result<void> MigratePgSchema(PgConnection& c, Logger& log, PgDeadline deadline);

}  // namespace keycache
