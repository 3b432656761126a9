// SqliteStore: the KeyStore over one SQLite file (WAL mode). Thread-safe. Writes go through one
// connection guarded by a mutex (SQLite serialises writers anyway; write transactions use BEGIN
// IMMEDIATE so other processes sharing the file cannot break the limits). Reads go through a
// small pool of read-only connections, each with its own mutex and prepared statements, so
// lookups run concurrently with each other and are never queued behind a writer that waits for
// the file's write lock (WAL readers are not blocked by writers).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/key_archive.h"
#include "store/key_store.h"
#include "util/log.h"

struct sqlite3;

namespace keycache {

class SqliteStatement;

struct SqliteStoreOptions {
  // Read-only connections for FindById, ListByOwner, TopByUsage, CountKeys and Ping (the
  // service opens one per database thread). 0, and always for ":memory:" (a second connection
  // would see another, empty database), reads share the write connection.
  int readers = 2;
  // Page cache of each read connection, in KiB (SQLite's default is 2,000 KiB per connection).
  // Kept small: the operating system's page cache holds the file anyway, and what a reader
  // caches is copied per connection, so large caches only make RSS creep up as the file grows
  // (measured by bench/soak.sh: +6-7 % over ten minutes with the default, +0.3 % with 64 KiB).
  int reader_cache_kib = 256;
};

class SqliteStore final : public KeyStore, public KeyArchive {
 public:
  // Opens (creating the file and its parent directories) and migrates the schema.
  // `path` is a file path or ":memory:". Errc::kBadInput for an empty path or a negative reader
  // count, Errc::kDatabase for any other failure (directory, open, pragmas, migration), with the
  // reason logged.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, Logger& log,
                                                   SqliteStoreOptions options = {});

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
  Result<std::vector<KeyId>> ListLegacyIds() override;

  // KeyArchive. Pages follow the stored (signed, bit-cast) id order.
  Result<std::vector<KeyRecord>> ExportPage(std::optional<KeyId> after, std::size_t limit) override;
  Result<ImportCounts> ImportBatch(std::span<const KeyRecord> records, bool skip_existing,
                                   KeyId& conflict) override;

 private:
  struct Connection;       // a connection, its mutex and its read statements
  struct WriteStatements;  // the statements only the write connection prepares
  class ReadLease;         // a locked connection to read on

  SqliteStore(std::unique_ptr<Connection> writer, std::unique_ptr<WriteStatements> writes,
              std::vector<std::unique_ptr<Connection>> readers, Logger& log);

  // A free reader if there is one, else waits for one (the write connection when there are no
  // readers).
  ReadLease Read();

  boost::system::error_code Fail(Connection& c, int rc, std::string_view op);
  // These run a bound statement to completion; the caller holds c.mu and a StatementScope.
  Result<std::optional<KeyRecord>> QueryOne(Connection& c, SqliteStatement& stmt,
                                            std::string_view op);
  Result<std::vector<KeyRecord>> QueryAll(Connection& c, SqliteStatement& stmt,
                                          std::string_view op);
  Result<std::optional<KeyRecord>> FindOn(Connection& c, KeyId id);  // caller holds c.mu

  // Immutable after construction.
  Logger& log_;

  // Declared so that the write statements are finalized before the write connection closes.
  std::unique_ptr<Connection> writer_;
  std::unique_ptr<WriteStatements> writes_;  // guarded by writer_->mu
  std::vector<std::unique_ptr<Connection>> readers_;
  std::atomic<std::size_t> next_reader_{0};  // where the search for a free reader starts
};

}  // namespace keycache
