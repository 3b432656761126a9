#include "store/pg_statements.h"

#include <string>
#include <vector>

namespace keycache::pg {
namespace {

std::string Select(std::string_view rest) {
  return "SELECT " + std::string(kRecordColumns) + " FROM api_keys " + std::string(rest);
}

std::string Returning(std::string_view dml) {
  return std::string(dml) + " RETURNING " + std::string(kRecordColumns);
}

// Explicit casts everywhere: the server never has to guess a parameter's type.
std::vector<PgStatementDef> Build() {
  return {
      {kPing, "SELECT version FROM schema_version LIMIT 1"},
      {kFind, Select("WHERE id = $1::bigint")},
      // Verifications that wait for the database together are read in one round trip.
      {kFindMany, Select("WHERE id = ANY($1::bigint[])")},
      // Rotation reads the old key and locks it, so two rotations of one key cannot both pass.
      {kFindForUpdate, Select("WHERE id = $1::bigint FOR UPDATE")},
      {kListByOwner, Select("WHERE owner_id = $1::text ORDER BY created_at DESC, id DESC")},
      {kTopByUsage, Select("WHERE revoked_at IS NULL OR revoked_at > $1::bigint"
                           " ORDER BY usage_count DESC, id LIMIT $2::bigint")},
      {kCountAll, "SELECT COUNT(*) FROM api_keys"},
      {kLegacyIds, "SELECT id FROM api_keys WHERE key_format = 1"},
      // The owner limit: inserts for one owner take this transaction-scoped lock before they
      // count, so two of them cannot both see room for one more key (READ COMMITTED alone
      // would let both counts miss the other's uncommitted row). An advisory lock needs no
      // owners table and no retry loop; owners whose names share a hashtext() value merely
      // queue behind each other. The two-key form keeps this space apart from the one-key
      // migration lock.
      {kLockOwner, "SELECT pg_advisory_xact_lock(1263684419, hashtext($1::text))"},
      {kCountLive,
       "SELECT COUNT(*) FROM api_keys WHERE owner_id = $1::text AND revoked_at IS NULL"},
      {kInsert, "INSERT INTO api_keys (" + std::string(kRecordColumns) +
                    ") VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::bytea, $6::bigint,"
                    " $7::bigint, $8::bigint, $9::bigint, $10::text, $11::boolean, $12::bigint,"
                    " $13::bigint, $14::text, $15::bigint, $16::text, $17::smallint)"},
      // Each patch field is a (present?, value) pair, so "absent" and "set to NULL" differ.
      {kUpdate, Returning("UPDATE api_keys SET"
                          " name = CASE WHEN $2::boolean THEN $3::text ELSE name END,"
                          " scopes = CASE WHEN $4::boolean THEN $5::text ELSE scopes END,"
                          " expires_at = CASE WHEN $6::boolean THEN $7::bigint ELSE expires_at END,"
                          " enabled = CASE WHEN $8::boolean THEN $9::boolean ELSE enabled END,"
                          " metadata = CASE WHEN $10::boolean THEN $11::text ELSE metadata END,"
                          " updated_at = $12::bigint"
                          " WHERE id = $1::bigint")},
      {kRevoke, Returning("UPDATE api_keys SET revoked_at = $2::bigint, revoked_reason = $3::text,"
                          " updated_at = $4::bigint WHERE id = $1::bigint"
                          " AND (revoked_at IS NULL OR revoked_at > $2::bigint)")},
      {kRotateMark,
       Returning("UPDATE api_keys SET revoked_at = $2::bigint, revoked_reason = 'rotated',"
                 " replaced_by = $3::bigint, updated_at = $4::bigint WHERE id = $1::bigint")},
      {kDelete, Returning("DELETE FROM api_keys WHERE id = $1::bigint")},
      // One statement a batch. The caller merges deltas of one id first (an UPDATE changes a
      // row once however many source rows join it) and sorts them by id. SET expressions all
      // see the old row, so last_used_ip compares with the old time; the counter saturates
      // rather than overflow.
      {kAddUsage,
       "UPDATE api_keys AS k SET"
       " usage_count = CASE WHEN d.n > 9223372036854775807 - k.usage_count"
       "   THEN 9223372036854775807 ELSE k.usage_count + d.n END,"
       " last_used_ip = CASE WHEN d.at > COALESCE(k.last_used_at, 0) THEN NULLIF(d.ip, '')"
       "   ELSE k.last_used_ip END,"
       " last_used_at = CASE WHEN d.at > COALESCE(k.last_used_at, 0) THEN d.at"
       "   ELSE k.last_used_at END"
       " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[]) AS d(id, n, at, ip)"
       " WHERE k.id = d.id"},
  };
}

}  // namespace

std::span<const PgStatementDef> Statements() {
  static const std::vector<PgStatementDef> kAll = Build();
  return kAll;
}

}  // namespace keycache::pg
