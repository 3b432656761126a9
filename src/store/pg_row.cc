#include "store/pg_row.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>

#include "store/scope_text.h"

namespace keycache {
namespace {

std::string_view Text(const PGresult* res, int row, int col) {
  return {PQgetvalue(res, row, col), static_cast<std::size_t>(PQgetlength(res, row, col))};
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// bytea in text results is "\x" followed by two hex digits a byte (bytea_output = hex, the
// default since PostgreSQL 9.0).
bool DecodeHash(std::string_view text, KeyHash& out) {
  if (!text.starts_with("\\x") || text.size() != 2 + 2 * out.size()) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = HexDigit(text[2 + 2 * i]);
    const int lo = HexDigit(text[3 + 2 * i]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

}  // namespace

bool PgInt(const PGresult* res, int row, int col, std::int64_t& out) {
  if (PQgetisnull(res, row, col)) return false;
  const std::string_view t = Text(res, row, col);
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  return ec == std::errc() && end == t.data() + t.size();
}

void BindRecord(PgParams& p, const KeyRecord& r) {
  p.Int(PgId(r.id))
      .Text(r.owner_id)
      .Text(r.name)
      .Text(EncodeScopes(r.scopes))
      .Bytes(r.hash)
      .Int(r.created_at)
      .Int(r.updated_at)
      .IntOrNull(r.expires_at, kNever)
      .IntOrNull(r.revoked_at, kNever)
      .TextOrNull(r.revoked_reason)
      .Bool(r.enabled)
      .IntOrNull(PgId(r.replaced_by), 0)
      .IntOrNull(r.last_used_at, 0)
      .TextOrNull(r.last_used_ip)
      // BIGINT: counts past INT64_MAX cannot occur in practice; saturate anyway.
      .Int(static_cast<std::int64_t>(std::min<std::uint64_t>(r.usage_count, INT64_MAX)))
      .TextOrNull(r.metadata_json)
      .Int(static_cast<std::int64_t>(r.format));
}

Result<KeyRecord> ReadRecord(const PGresult* res, int row, Logger& log) {
  KeyRecord r;
  std::int64_t id = 0;
  std::int64_t usage = -1;
  std::int64_t format = 0;
  const bool ids_ok = PgInt(res, row, 0, id);
  r.id = IdFromPg(id);
  const bool ok = ids_ok && PQnfields(res) == 17 && DecodeHash(Text(res, row, 4), r.hash) &&
                  PgInt(res, row, 14, usage) && usage >= 0 && PgInt(res, row, 5, r.created_at) &&
                  PgInt(res, row, 6, r.updated_at) && PgInt(res, row, 16, format) &&
                  (format == 1 || format == 2);
  if (!ok) {
    // The schema's constraints make this unreachable unless the table was edited by hand.
    log.Warn("store_corrupt_row", {{"id", std::to_string(r.id)}});
    return make_error_code(Errc::kDatabase);
  }
  r.owner_id = Text(res, row, 1);
  r.name = Text(res, row, 2);
  r.scopes = DecodeScopes(Text(res, row, 3));
  if (!PgInt(res, row, 7, r.expires_at)) r.expires_at = kNever;
  if (!PgInt(res, row, 8, r.revoked_at)) r.revoked_at = kNever;
  r.revoked_reason = Text(res, row, 9);
  r.enabled = Text(res, row, 10) == "t";
  std::int64_t replaced = 0;
  r.replaced_by = PgInt(res, row, 11, replaced) ? IdFromPg(replaced) : 0;
  if (!PgInt(res, row, 12, r.last_used_at)) r.last_used_at = 0;
  r.last_used_ip = Text(res, row, 13);
  r.usage_count = static_cast<std::uint64_t>(usage);
  r.metadata_json = Text(res, row, 15);
  r.format = static_cast<KeyFormat>(format);
  return r;
}

Result<std::optional<KeyRecord>> ReadFirstRecord(const PGresult* result, Logger& log) {
  if (PQntuples(result) == 0) return std::optional<KeyRecord>();
  Result<KeyRecord> record = ReadRecord(result, 0, log);
  if (!record) return record.error();
  return std::optional<KeyRecord>(std::move(*record));
}

}  // namespace keycache
