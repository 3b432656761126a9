// SqliteStore: the KeyStore over one SQLite file (WAL mode). Thread-safe: one connection and its
// cached prepared statements are guarded by a mutex; SQLite serialises writers anyway, and write
// transactions use BEGIN IMMEDIATE so other processes sharing the file cannot break the limits.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/key_store.h"
#include "util/log.h"

struct sqlite3;

namespace keycache {

class SqliteStatement;

class SqliteStore final : public KeyStore {
 public:
  // Opens (creating the file and its parent directories) and migrates the schema.
  // `path` is a file path or ":memory:". Errc::kBadInput for an empty path, Errc::kDatabase for
  // any other failure (directory, open, pragmas, migration), with the reason logged.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, Logger& log);

  // "sqlite:./var/x.db" -> "./var/x.db", "sqlite:///abs/x.db" -> "/abs/x.db",
  // "sqlite::memory:" -> ":memory:" (a bare relative path, "sqlite:var/x.db", is accepted too);
  // Errc::kBadInput for anything else (other schemes, a host part, an empty path, '?' or '#',
  // which SQLite would take literally as part of the file name).
  static Result<std::string> ParseUrl(std::string_view url);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Result<void> Ping() override;
  Result<std::optional<KeyRecord>> FindById(KeyId id) override;
  // Also Errc::kBadInput if a scope is empty or contains a newline (the storage encoding).
  Result<void> Insert(const KeyRecord& record, std::size_t max_live_keys) override;
  // Also Errc::kBadInput for unencodable scopes (see Insert).
  Result<KeyRecord> Update(KeyId id, const KeyPatch& patch, TimeMs now) override;
  // Also Errc::kBadInput if `at` is kNever. If the key is already revoked at or before `at`,
  // nothing changes (the earlier revocation and its reason stand) and the record is returned.
  Result<KeyRecord> Revoke(KeyId id, TimeMs at, std::string_view reason, TimeMs now) override;
  // Returns the OLD key's record as updated (revoked_at, reason "rotated", replaced_by); the
  // caller already holds the replacement. kConflict also when the replacement's id exists;
  // kBadInput if old_revoked_at is kNever or the replacement's scopes are unencodable.
  Result<KeyRecord> Rotate(KeyId old_id, const KeyRecord& replacement, TimeMs old_revoked_at,
                           TimeMs now) override;
  Result<KeyRecord> Delete(KeyId id) override;
  // Newest first; ties on created_at broken by id so the order is stable.
  Result<std::vector<KeyRecord>> ListByOwner(std::string_view owner_id) override;
  // Ties on usage_count broken by id so the order is stable.
  Result<std::vector<KeyRecord>> TopByUsage(std::size_t limit, TimeMs now) override;
  Result<void> AddUsage(std::span<const UsageDelta> deltas) override;
  Result<std::uint64_t> CountKeys() override;  // all rows, revoked or not

 private:
  struct Statements;
  struct DbCloser {
    void operator()(sqlite3* db) const;
  };

  SqliteStore(std::unique_ptr<sqlite3, DbCloser> db, std::unique_ptr<Statements> stmts,
              Logger& log);

  boost::system::error_code Fail(int rc, std::string_view op);
  // These run a bound statement to completion; the caller holds mu_ and a StatementScope.
  Result<std::optional<KeyRecord>> QueryOne(SqliteStatement& stmt, std::string_view op);
  Result<std::vector<KeyRecord>> QueryAll(SqliteStatement& stmt, std::string_view op);
  Result<std::optional<KeyRecord>> FindByIdLocked(KeyId id);

  // Immutable after construction.
  Logger& log_;

  std::mutex mu_;
  // Guarded by mu_. Declared so that the statements are finalized before the connection closes.
  std::unique_ptr<sqlite3, DbCloser> db_;
  std::unique_ptr<Statements> stmts_;
};

}  // namespace keycache
