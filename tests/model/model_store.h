// ModelStore: the one database every instance of a model deployment shares — a SQLite file in a
// temporary directory (the default) or a real PostgreSQL server (support/
// postgres_server_process.h) that the test starts, with a database of its own. Gives the
// instances' DATABASE_URL and lets the faults reach the store (the SQLite path to write-lock,
// the PostgreSQL server to stop, restart or lock a table on). Not thread-safe: driven by the
// test's main thread.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "support/keycached_process.h"
#include "support/postgres_server_process.h"

namespace keycache::testing::model {

enum class StoreKind { kSqlite, kPostgres };

std::string_view StoreName(StoreKind kind);  // "sqlite", "postgres" (also gtest parameter names)

class ModelStore {
 public:
  explicit ModelStore(StoreKind kind) : kind_(kind) {}

  // PostgreSQL: starts the server and creates the database. SQLite: nothing to start.
  ::testing::AssertionResult Start();

  StoreKind kind() const { return kind_; }
  bool postgres() const { return kind_ == StoreKind::kPostgres; }
  std::string Url() const;  // the instances' DATABASE_URL
  // For an instance in a network namespace of its own: PostgreSQL through its unix socket.
  std::string IsolatedUrl() const;
  std::filesystem::path sqlite_path() const { return dir_.path() / "keycache.db"; }
  PostgresServerProcess& server() { return *server_; }  // kPostgres only

 private:
  static constexpr const char* kDatabase = "keycache_model";
  const StoreKind kind_;
  TempDir dir_;
  std::unique_ptr<PostgresServerProcess> server_;
};

}  // namespace keycache::testing::model
