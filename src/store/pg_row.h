// The mapping between a KeyRecord and a row of PostgreSQL's api_keys table: binding a record's
// fields as statement parameters and reading a text-format result row back. Pure functions;
// thread-compatible.
#pragma once

#include <libpq-fe.h>

#include <bit>
#include <cstdint>
#include <optional>

#include "core/key_id.h"
#include "core/key_record.h"
#include "store/pg_params.h"
#include "util/error.h"
#include "util/log.h"

namespace keycache {

// Key ids are random 64-bit values; BIGINT is signed, so ids are stored bit-cast (as in SQLite).
inline std::int64_t PgId(KeyId id) { return std::bit_cast<std::int64_t>(id); }
inline KeyId IdFromPg(std::int64_t v) { return std::bit_cast<KeyId>(v); }

// Appends the record's 17 fields in kRecordColumns order (store/sqlite_row.h names the same
// columns): NULL for "none" (kNever, 0, ""), the hash as binary bytea.
void BindRecord(PgParams& params, const KeyRecord& r);

// Reads row `row` of a result selected with the record columns. Errc::kDatabase, logged with
// the id only, if the row cannot be a record.
Result<KeyRecord> ReadRecord(const PGresult* result, int row, Logger& log);

// The first row of a result selected with the record columns; nullopt when it has none.
Result<std::optional<KeyRecord>> ReadFirstRecord(const PGresult* result, Logger& log);

// Column `col` of row `row` as an integer (false if NULL or not an integer).
bool PgInt(const PGresult* result, int row, int col, std::int64_t& out);

}  // namespace keycache
