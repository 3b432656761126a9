// The mapping between a KeyRecord and a row of the api_keys table: column list, binding,
// reading, and the encodings of ids and times (scopes: scope_text.h). Pure functions;
// thread-compatible.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/key_id.h"
#include "core/key_record.h"
#include "store/scope_text.h"
#include "store/sqlite_statement.h"
#include "util/clock.h"
#include "util/error.h"

namespace keycache {

// Every statement that returns records selects exactly these columns, in this order.
inline constexpr std::string_view kRecordColumns =
    "id, owner_id, name, scopes, key_hash, created_at, updated_at, expires_at, revoked_at, "
    "revoked_reason, enabled, replaced_by, last_used_at, last_used_ip, usage_count, metadata, "
    "key_format";
inline constexpr int kRecordColumnCount = 17;

// Key ids are random 64-bit values; SQLite integers are signed, so ids are stored bit-cast.
inline std::int64_t IdToSql(KeyId id) { return std::bit_cast<std::int64_t>(id); }
inline KeyId IdFromSql(std::int64_t v) { return std::bit_cast<KeyId>(v); }

// Binds `value` at `index`, or NULL when it equals `null_value` (kNever for expiry and
// revocation, 0 for "never used", 0 for "no replacement").
void BindInt64OrNull(SqliteStatement& stmt, int index, std::int64_t value, std::int64_t null_value);

// Binds the record's fields to parameters first_index .. first_index + 16, in kRecordColumns
// order.
void BindRecord(SqliteStatement& stmt, int first_index, const KeyRecord& r);

// Reads the current row (selected with kRecordColumns). Errc::kDatabase, logged, if the row
// cannot be a record (a key hash that is not 32 bytes, a negative usage count).
Result<KeyRecord> ReadRecord(const SqliteStatement& stmt, Logger& log);

}  // namespace keycache
