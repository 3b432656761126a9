// StoreBackend: one KeyStore implementation under test, with a raw SQL view of what it stored.
// The contract tests (key_store_contract_test.cc) run every case against each backend; the
// PostgreSQL backend gets a fresh database on a server the test process starts once.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "store/key_store.h"
#include "util/log.h"

namespace keycache::testing {

class PostgresServerProcess;

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // A store on this backend's database (a second call opens another store on the same one).
  virtual std::unique_ptr<KeyStore> Open(Logger& log) = 0;
  // The first column of the first row of `sql` as text ("NULL" for NULL), or "<no row>".
  virtual std::string Text(const std::string& sql) = 0;
};

// "sqlite" (a file in a temporary directory) or "postgres" (a new database).
std::unique_ptr<StoreBackend> MakeBackend(std::string_view name);

// The server this process's PostgreSQL tests share, started on first use (a test failure is
// recorded if it cannot start; it is then nullptr). Stopped when the process exits.
PostgresServerProcess* SharedPostgres();
// The URL of a database created for the caller on SharedPostgres().
std::string FreshPostgresDatabase();

}  // namespace keycache::testing
