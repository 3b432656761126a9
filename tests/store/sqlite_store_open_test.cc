// SqliteStore's life outside single operations: opening, migrating, reopening, failing to open,
// URL parsing, and concurrent use from threads and from a second connection.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite_store.h"
#include "store_test_util.h"

namespace keycache {
namespace {

using testing::CapturingLogger;
using testing::ExpectSameRecord;
using testing::MakeRecord;
using testing::RawDb;
using testing::TempDir;

constexpr TimeMs kT0 = 1'700'000'000'000;

std::unique_ptr<SqliteStore> OpenOrDie(const std::string& path, Logger& log) {
  auto opened = SqliteStore::Open(path, log);
  EXPECT_TRUE(opened) << opened.error().message();
  return opened ? std::move(*opened) : nullptr;
}

TEST(SqliteStoreUrl, AcceptsTheThreeForms) {
  EXPECT_EQ(*SqliteStore::ParseUrl("sqlite:./var/x.db"), "./var/x.db");
  EXPECT_EQ(*SqliteStore::ParseUrl("sqlite:///abs/path.db"), "/abs/path.db");
  EXPECT_EQ(*SqliteStore::ParseUrl("sqlite::memory:"), ":memory:");
  EXPECT_EQ(*SqliteStore::ParseUrl("sqlite:var/x.db"), "var/x.db");
}

TEST(SqliteStoreUrl, RejectsEverythingElse) {
  for (const char* url : {"", "sqlite:", "sqlite://", "sqlite:///", "sqlite://host/x.db",
                          "postgres://u@h/db", "SQLITE:./x.db", "./x.db", "sqlite::memory",
                          "sqlite:./x.db?mode=ro", "sqlite:./x.db#frag", "sqlite:./dir/"}) {
    auto parsed = SqliteStore::ParseUrl(url);
    ASSERT_FALSE(parsed) << url;
    EXPECT_EQ(parsed.error(), Errc::kBadInput) << url;
  }
}

TEST(SqliteStoreOpen, CreatesParentDirectoriesAndUsesWal) {
  TempDir dir;
  Logger log(LogLevel::kWarn);
  const std::string path = dir.File("a/b/c/keys.db");
  auto store = OpenOrDie(path, log);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_TRUE(store->Ping());
  RawDb raw(path);
  EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "wal");
}

TEST(SqliteStoreOpen, ReopeningKeepsDataAndMigratesOnce) {
  TempDir dir;
  Logger log(LogLevel::kWarn);
  const std::string path = dir.File("keys.db");
  KeyRecord r = MakeRecord(0xF000'0000'0000'0001ULL, "a", kT0);
  r.metadata_json = R"({"k":1})";
  {
    auto store = OpenOrDie(path, log);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Insert(r, 10));
  }
  for (int i = 0; i < 2; ++i) {
    auto store = OpenOrDie(path, log);
    ASSERT_NE(store, nullptr);
    auto found = store->FindById(r.id);
    ASSERT_TRUE(found && found->has_value());
    ExpectSameRecord(**found, r);
  }
  RawDb raw(path);
  EXPECT_EQ(raw.Text("SELECT COUNT(*) || ':' || MAX(version) FROM schema_version"), "2:2");
}

// A database made by a build before tagged keys (schema 1): opening it migrates to schema 2 and
// every existing key is a legacy one, listed by ListLegacyIds through the partial index.
TEST(SqliteStoreOpen, MigratesASchemaOneDatabaseAndItsKeysBecomeLegacy) {
  TempDir dir;
  Logger log(LogLevel::kOff);
  const std::string path = dir.File("keys.db");
  std::ofstream(path).flush();  // an empty file is an empty database
  {
    RawDb raw(path);
    raw.Exec(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);"
        "INSERT INTO schema_version VALUES (1, 0);"
        "CREATE TABLE api_keys (id INTEGER PRIMARY KEY, owner_id TEXT NOT NULL, name TEXT NOT NULL,"
        " scopes TEXT NOT NULL, key_hash BLOB NOT NULL CHECK (length(key_hash) = 32),"
        " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, expires_at INTEGER,"
        " revoked_at INTEGER, revoked_reason TEXT, enabled INTEGER NOT NULL DEFAULT 1"
        " CHECK (enabled IN (0, 1)), replaced_by INTEGER, last_used_at INTEGER, last_used_ip TEXT,"
        " usage_count INTEGER NOT NULL DEFAULT 0 CHECK (usage_count >= 0), metadata TEXT) STRICT;"
        "INSERT INTO api_keys (id, owner_id, name, scopes, key_hash, created_at, updated_at)"
        " VALUES (-5, 'o', 'old', 'users:read', zeroblob(32), 1, 1),"
        " (7, 'o', 'older', 'users:read', zeroblob(32), 1, 1);");
  }
  auto store = OpenOrDie(path, log);
  ASSERT_NE(store, nullptr);
  auto found = store->FindById(7);
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ((*found)->format, KeyFormat::kLegacy);
  KeyRecord fresh = MakeRecord(9, "o", 2);
  ASSERT_TRUE(store->Insert(fresh, 100));
  auto legacy = store->ListLegacyIds();
  ASSERT_TRUE(legacy);
  EXPECT_EQ(*legacy, (std::vector<KeyId>{7, static_cast<KeyId>(-5)})) << "ascending as KeyIds";
  RawDb raw(path);
  EXPECT_EQ(raw.Text("SELECT COUNT(*) || ':' || MAX(version) FROM schema_version"), "2:2");
  EXPECT_NE(raw.Text("SELECT sql FROM sqlite_master WHERE name = 'api_keys_legacy'")
                .find("WHERE key_format = 1"),
            std::string::npos);
}

TEST(SqliteStoreOpen, RefusesASchemaNewerThanThisBuild) {
  TempDir dir;
  Logger log(LogLevel::kOff);
  const std::string path = dir.File("keys.db");
  ASSERT_NE(OpenOrDie(path, log), nullptr);
  RawDb(path).Exec("INSERT INTO schema_version (version, applied_at) VALUES (99, 0)");
  auto opened = SqliteStore::Open(path, log);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error(), Errc::kDatabase);
}

TEST(SqliteStoreOpen, CorruptFileIsAnErrorValueWithTheReasonLogged) {
  TempDir dir;
  const std::string path = dir.File("keys.db");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 1000; ++i) out << "this is not an SQLite database. ";
  }
  CapturingLogger log(LogLevel::kWarn);
  auto opened = SqliteStore::Open(path, log.logger());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error(), Errc::kDatabase);
  const std::string text = log.Text();
  EXPECT_NE(text.find("store_sqlite_error"), std::string::npos) << text;
  EXPECT_NE(text.find("not a database"), std::string::npos) << text;
}

TEST(SqliteStoreOpen, UnusablePathsAreErrorValues) {
  TempDir dir;
  Logger log(LogLevel::kOff);
  const std::string file = dir.File("plain-file");
  std::ofstream(file) << "x";
  // A parent that is a regular file cannot become a directory (this holds even for root).
  auto under_file = SqliteStore::Open(file + "/keys.db", log);
  ASSERT_FALSE(under_file);
  EXPECT_EQ(under_file.error(), Errc::kDatabase);
  // A directory cannot be opened as a database file.
  auto directory = SqliteStore::Open(dir.path().string(), log);
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error(), Errc::kDatabase);
  auto empty = SqliteStore::Open("", log);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), Errc::kBadInput);
}

TEST(SqliteStoreOpen, InMemoryDatabaseWorks) {
  Logger log(LogLevel::kWarn);
  auto store = OpenOrDie(":memory:", log);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(MakeRecord(1, "a", kT0), 1));
  EXPECT_EQ(*store->CountKeys(), 1u);
}

TEST(SqliteStoreErrors, AVanishedTableIsAnErrorValueAndNoHashIsLogged) {
  TempDir dir;
  CapturingLogger log(LogLevel::kDebug);
  const std::string path = dir.File("keys.db");
  auto store = OpenOrDie(path, log.logger());
  ASSERT_NE(store, nullptr);
  KeyRecord r = MakeRecord(1, "a", kT0);
  ASSERT_TRUE(store->Insert(r, 10));
  RawDb(path).Exec("DROP TABLE api_keys");

  auto found = store->FindById(1);
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error(), Errc::kDatabase);
  auto inserted = store->Insert(MakeRecord(2, "a", kT0), 10);
  ASSERT_FALSE(inserted);
  EXPECT_EQ(inserted.error(), Errc::kDatabase);
  const std::vector<UsageDelta> deltas = {{1, 1, kT0, "10.0.0.1"}};
  EXPECT_EQ(store->AddUsage(deltas).error(), Errc::kDatabase);
  EXPECT_TRUE(store->Ping());  // the schema_version table is still there

  const std::string text = log.Text();
  EXPECT_NE(text.find("no such table"), std::string::npos) << text;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (std::uint8_t b : r.hash) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  EXPECT_EQ(text.find(hex), std::string::npos);
  EXPECT_EQ(text.find(std::string(r.hash.begin() + 4, r.hash.begin() + 12)), std::string::npos);
}

// Every round starts an owner at limit - 1 and lets one inserter per store race for the last
// slot: exactly one may win, every other must see kLimitExceeded (not an error, not a success).
void RaceForTheLastSlot(const std::vector<SqliteStore*>& stores, int round) {
  constexpr std::size_t kLimit = 3;
  const std::string owner = "owner-" + std::to_string(round);
  const KeyId base = static_cast<KeyId>(round) * 100;
  for (KeyId i = 0; i < kLimit - 1; ++i) {
    ASSERT_TRUE(stores[0]->Insert(MakeRecord(base + i, owner, kT0), kLimit));
  }
  std::latch start(static_cast<std::ptrdiff_t>(stores.size()));
  std::vector<Result<void>> results(stores.size(), make_error_code(Errc::kUnavailable));
  std::vector<std::thread> threads;
  threads.reserve(stores.size());
  for (std::size_t t = 0; t < stores.size(); ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      results[t] = stores[t]->Insert(MakeRecord(base + 50 + t, owner, kT0), kLimit);
    });
  }
  for (std::thread& t : threads) t.join();
  int winners = 0;
  for (const Result<void>& r : results) {
    if (r) {
      ++winners;
    } else {
      EXPECT_EQ(r.error(), Errc::kLimitExceeded) << "round " << round;
    }
  }
  EXPECT_EQ(winners, 1) << "round " << round;
  auto listed = stores[0]->ListByOwner(owner);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), kLimit);
}

constexpr int kRacers = 4;
constexpr int kRounds = 50;

TEST(SqliteStoreConcurrency, ThreadsSharingOneStoreCannotOvershootTheOwnerLimit) {
  TempDir dir;
  Logger log(LogLevel::kWarn);
  auto store = OpenOrDie(dir.File("keys.db"), log);
  ASSERT_NE(store, nullptr);
  const std::vector<SqliteStore*> racers(kRacers, store.get());
  for (int round = 0; round < kRounds; ++round) RaceForTheLastSlot(racers, round);
}

// Separate connections to one file (separate processes, in production) are kept apart only by
// SQLite's write lock: the owner count and the insert share one BEGIN IMMEDIATE transaction.
TEST(SqliteStoreConcurrency, ConnectionsSharingOneFileCannotOvershootTheOwnerLimit) {
  TempDir dir;
  Logger log(LogLevel::kWarn);
  std::vector<std::unique_ptr<SqliteStore>> stores;
  std::vector<SqliteStore*> racers;
  for (int i = 0; i < kRacers; ++i) {
    stores.push_back(OpenOrDie(dir.File("keys.db"), log));
    ASSERT_NE(stores.back(), nullptr);
    racers.push_back(stores.back().get());
  }
  for (int round = 0; round < kRounds; ++round) RaceForTheLastSlot(racers, round);
}

TEST(SqliteStoreConcurrency, ConcurrentUsageFlushesAllCount) {
  TempDir dir;
  Logger log(LogLevel::kWarn);
  auto store = OpenOrDie(dir.File("keys.db"), log);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(MakeRecord(1, "a", kT0), 10));
  constexpr TimeMs kThreads = 4;
  constexpr TimeMs kFlushes = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (TimeMs t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (TimeMs i = 0; i < kFlushes; ++i) {
        const std::vector<UsageDelta> d = {{1, 2, kT0 + t * kFlushes + i, "10.0.0.1"}};
        if (!store->AddUsage(d)) failures.fetch_add(1);
        if (!store->FindById(1)) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto found = store->FindById(1);
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ((*found)->usage_count, static_cast<std::uint64_t>(2 * kThreads * kFlushes));
  EXPECT_EQ((*found)->last_used_at, kT0 + kThreads * kFlushes - 1);
}

}  // namespace
}  // namespace keycache
