// PgStore: the KeyStore over PostgreSQL (libpq). Thread-safe. A fixed pool of connections, each
// with its own mutex and prepared statements, lent to one thread at a time (the service opens
// one per database thread). Every call is bounded by the configured timeout: server-side by
// statement_timeout and lock_timeout, client-side by a deadline on the socket and on the wait
// for a connection; a call that runs out returns Errc::kTimeout. A connection found broken is
// reset before its next use, and a read that fails because its connection broke is retried
// once on the reset connection, so the service recovers by itself when PostgreSQL restarts.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/key_archive.h"
#include "store/key_store.h"
#include "util/log.h"

namespace keycache {

class PgConnection;

struct PgStoreOptions {
  int connections = 2;                      // KEYCACHE_DB_THREADS
  std::chrono::milliseconds timeout{5000};  // KEYCACHE_DB_TIMEOUT
};

class PgStore final : public KeyStore, public KeyArchive {
 public:
  // Connects every connection of the pool, migrates the schema and prepares the statements,
  // each connection bounded by the timeout but by no less than 10 s (start-up is no request).
  // `url` is a postgresql:// or postgres:// URI (libpq's syntax: user, password, host, port,
  // database, and parameters such as sslmode). Errc::kBadInput for another scheme or a
  // connection count below 1, Errc::kDatabase or kTimeout when the server cannot be reached or
  // the schema is newer than this build; the reason is logged, the URL never (it can hold a
  // password).
  static Result<std::unique_ptr<PgStore>> Open(const std::string& url, Logger& log,
                                               PgStoreOptions options = {});

  // True for the URL schemes Open accepts.
  static bool IsPostgresUrl(std::string_view url);

  ~PgStore() override;
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  // The semantics, and the extra kBadInput cases, are SqliteStore's (store/sqlite_store.h).
  Result<void> Ping() override;
  Result<std::optional<KeyRecord>> FindById(KeyId id) override;
  // One statement for all of them; a failure is every id's answer.
  std::vector<Result<std::optional<KeyRecord>>> FindByIds(std::span<const KeyId> ids) override;
  bool ReadsManyAtOnce() const override { return true; }
  Result<void> Insert(const KeyRecord& record, std::size_t max_live_keys) override;
  Result<KeyRecord> Update(KeyId id, const KeyPatch& patch, TimeMs now) override;
  Result<KeyRecord> Revoke(KeyId id, TimeMs at, std::string_view reason, TimeMs now) override;
  Result<KeyRecord> Rotate(KeyId old_id, const KeyRecord& replacement, TimeMs old_revoked_at,
                           TimeMs now) override;
  Result<KeyRecord> Delete(KeyId id) override;
  Result<std::vector<KeyRecord>> ListByOwner(std::string_view owner_id) override;
  Result<std::vector<KeyRecord>> TopByUsage(std::size_t limit, TimeMs now) override;
  Result<void> AddUsage(std::span<const UsageDelta> deltas) override;
  Result<std::uint64_t> CountKeys() override;
  Result<std::vector<KeyId>> ListLegacyIds() override;

  // KeyArchive. Pages follow the stored (signed, bit-cast) id order, as SQLite's; a batch is one
  // transaction bounded by one timeout.
  Result<std::vector<KeyRecord>> ExportPage(std::optional<KeyId> after, std::size_t limit) override;
  Result<ImportCounts> ImportBatch(std::span<const KeyRecord> records, bool skip_existing,
                                   KeyId& conflict) override;

 private:
  struct Slot;  // a connection and its mutex
  class Lease;  // a locked slot whose connection is usable

  PgStore(std::vector<std::unique_ptr<Slot>> slots, std::chrono::milliseconds timeout, Logger& log);

  // Runs `body(connection, deadline)` on a leased connection within one timeout. When
  // `retry_read` and the call failed because the connection broke, resets it and runs `body`
  // once more (only reads: a write may have been applied before the connection broke).
  template <class T, class Body>
  Result<T> Call(std::string_view op, bool retry_read, Body body);

  // Immutable after construction.
  Logger& log_;
  const std::chrono::milliseconds timeout_;
  const std::vector<std::unique_ptr<Slot>> slots_;

  std::atomic<std::size_t> next_slot_{0};  // where the search for a free connection starts
};

}  // namespace keycache
