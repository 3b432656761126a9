// The statements PgStore prepares on every connection: their names and SQL. Also read by the
// tests, which EXPLAIN each lookup to check that it is served by an index. Immutable.
#pragma once

#include <span>
#include <string_view>

#include "store/pg_connection.h"

namespace keycache::pg {

// Every statement that returns records selects exactly these columns, in this order (the same
// as SQLite's kRecordColumns).
inline constexpr std::string_view kRecordColumns =
    "id, owner_id, name, scopes, key_hash, created_at, updated_at, expires_at, revoked_at, "
    "revoked_reason, enabled, replaced_by, last_used_at, last_used_ip, usage_count, metadata, "
    "key_format";

// Names, as passed to PgConnection::Exec.
inline constexpr const char* kPing = "ping";
inline constexpr const char* kFind = "find";                      // $1 id
inline constexpr const char* kFindMany = "find_many";             // $1 ids
inline constexpr const char* kFindForUpdate = "find_for_update";  // $1 id
inline constexpr const char* kListByOwner = "list_by_owner";      // $1 owner
inline constexpr const char* kTopByUsage = "top_by_usage";        // $1 now, $2 limit
inline constexpr const char* kCountAll = "count_all";
inline constexpr const char* kLegacyIds = "legacy_ids";
inline constexpr const char* kLockOwner = "lock_owner";    // $1 owner
inline constexpr const char* kCountLive = "count_live";    // $1 owner
inline constexpr const char* kInsert = "insert";           // $1..$17 the record
inline constexpr const char* kUpdate = "update";           // $1 id, (present, value) pairs, $12 now
inline constexpr const char* kRevoke = "revoke";           // $1 id, $2 at, $3 reason, $4 now
inline constexpr const char* kRotateMark = "rotate_mark";  // $1 id, $2 at, $3 by, $4 now
inline constexpr const char* kDelete = "delete";           // $1 id
inline constexpr const char* kAddUsage = "add_usage";      // $1 ids, $2 counts, $3 times, $4 ips

std::span<const PgStatementDef> Statements();

}  // namespace keycache::pg
