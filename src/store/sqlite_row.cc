#include "store/sqlite_row.h"

#include <algorithm>

namespace keycache {

void BindInt64OrNull(SqliteStatement& stmt, int index, std::int64_t value,
                     std::int64_t null_value) {
  if (value == null_value) {
    stmt.BindNull(index);
  } else {
    stmt.BindInt64(index, value);
  }
}

void BindRecord(SqliteStatement& stmt, int first, const KeyRecord& r) {
  stmt.BindInt64(first + 0, IdToSql(r.id));
  stmt.BindText(first + 1, r.owner_id);
  stmt.BindText(first + 2, r.name);
  stmt.BindText(first + 3, EncodeScopes(r.scopes));
  stmt.BindBlob(first + 4, r.hash);
  stmt.BindInt64(first + 5, r.created_at);
  stmt.BindInt64(first + 6, r.updated_at);
  BindInt64OrNull(stmt, first + 7, r.expires_at, kNever);
  BindInt64OrNull(stmt, first + 8, r.revoked_at, kNever);
  stmt.BindTextOrNull(first + 9, r.revoked_reason);
  stmt.BindInt64(first + 10, r.enabled ? 1 : 0);
  BindInt64OrNull(stmt, first + 11, IdToSql(r.replaced_by), 0);
  BindInt64OrNull(stmt, first + 12, r.last_used_at, 0);
  stmt.BindTextOrNull(first + 13, r.last_used_ip);
  // usage_count is an INTEGER: counts past INT64_MAX cannot occur in practice; saturate anyway.
  stmt.BindInt64(first + 14,
                 static_cast<std::int64_t>(std::min<std::uint64_t>(r.usage_count, INT64_MAX)));
  stmt.BindTextOrNull(first + 15, r.metadata_json);
  stmt.BindInt64(first + 16, static_cast<std::int64_t>(r.format));
}

Result<KeyRecord> ReadRecord(const SqliteStatement& stmt, Logger& log) {
  KeyRecord r;
  r.id = IdFromSql(stmt.ColumnInt64(0));
  r.owner_id = stmt.ColumnText(1);
  r.name = stmt.ColumnText(2);
  r.scopes = DecodeScopes(stmt.ColumnText(3));
  std::span<const std::uint8_t> hash = stmt.ColumnBlob(4);
  std::int64_t usage = stmt.ColumnInt64(14);
  const std::int64_t format = stmt.ColumnInt64(16);
  if (hash.size() != r.hash.size() || usage < 0 || (format != 1 && format != 2)) {
    // The schema's CHECK constraints make this unreachable unless the file was edited by hand.
    log.Warn("store_corrupt_row", {{"id", std::to_string(r.id)}});
    return make_error_code(Errc::kDatabase);
  }
  std::copy(hash.begin(), hash.end(), r.hash.begin());
  r.created_at = stmt.ColumnInt64(5);
  r.updated_at = stmt.ColumnInt64(6);
  r.expires_at = stmt.IsNull(7) ? kNever : stmt.ColumnInt64(7);
  r.revoked_at = stmt.IsNull(8) ? kNever : stmt.ColumnInt64(8);
  r.revoked_reason = stmt.ColumnText(9);
  r.enabled = stmt.ColumnInt64(10) != 0;
  r.replaced_by = stmt.IsNull(11) ? 0 : IdFromSql(stmt.ColumnInt64(11));
  r.last_used_at = stmt.IsNull(12) ? 0 : stmt.ColumnInt64(12);
  r.last_used_ip = stmt.ColumnText(13);
  r.usage_count = static_cast<std::uint64_t>(usage);
  r.metadata_json = stmt.ColumnText(15);
  r.format = static_cast<KeyFormat>(format);
  return r;
}

}  // namespace keycache
