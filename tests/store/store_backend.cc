#include "store_backend.h"

#include <atomic>

#include "store/pg_store.h"
#include "store/sqlite_store.h"
#include "store_test_util.h"
#include "support/pg_session.h"
#include "support/postgres_server_process.h"

namespace keycache::testing {
namespace {

class SqliteBackend final : public StoreBackend {
 public:
  std::unique_ptr<KeyStore> Open(Logger& log) override {
    auto opened = SqliteStore::Open(path_, log);
    EXPECT_TRUE(opened) << opened.error().message();
    return opened ? std::move(*opened) : nullptr;
  }
  std::string Text(const std::string& sql) override { return RawDb(path_).Text(sql); }

 private:
  TempDir dir_;
  std::string path_ = dir_.File("keys.db");
};

class PgBackend final : public StoreBackend {
 public:
  std::unique_ptr<KeyStore> Open(Logger& log) override {
    if (url_.empty()) return nullptr;
    auto opened = PgStore::Open(url_, log);
    EXPECT_TRUE(opened) << opened.error().message();
    return opened ? std::move(*opened) : nullptr;
  }
  std::string Text(const std::string& sql) override { return PgSession(url_).Text(sql); }

 private:
  std::string url_ = FreshPostgresDatabase();
};

}  // namespace

std::unique_ptr<StoreBackend> MakeBackend(std::string_view name) {
  if (name == "postgres") return std::make_unique<PgBackend>();
  return std::make_unique<SqliteBackend>();
}

PostgresServerProcess* SharedPostgres() {
  // gtest_discover_tests runs each test in its own process: one server per PostgreSQL test.
  static std::unique_ptr<PostgresServerProcess> server = [] {
    auto s = std::make_unique<PostgresServerProcess>();
    const ::testing::AssertionResult started = s->Start();
    EXPECT_TRUE(started);
    return started ? std::move(s) : nullptr;
  }();
  return server.get();
}

std::string FreshPostgresDatabase() {
  static std::atomic<int> next{0};
  PostgresServerProcess* server = SharedPostgres();
  if (server == nullptr) return "";
  const std::string name = "kc_test_" + std::to_string(next.fetch_add(1));
  const ::testing::AssertionResult created = server->CreateDatabase(name);
  EXPECT_TRUE(created);
  return created ? server->Url(name) : "";
}

}  // namespace keycache::testing
