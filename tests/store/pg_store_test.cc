// PostgreSQL-only behaviour of PgStore against a real server the test starts: the owner limit
// under concurrent instances, index use of every lookup, migrations racing and refusing a newer
// schema, bounded calls while another session holds a lock, recovery after a server restart,
// and what Open refuses. The KeyStore contract itself is in key_store_contract_test.cc.
#include "store/pg_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "store/pg_statements.h"
#include "store_backend.h"
#include "store_test_util.h"
#include "support/pg_session.h"
#include "support/postgres_server_process.h"

namespace keycache {
namespace {

using namespace std::chrono_literals;
using testing::CapturingLogger;
using testing::MakeRecord;
using testing::PgSession;

constexpr TimeMs kT0 = 1'700'000'000'000;

std::unique_ptr<PgStore> OpenOk(const std::string& url, Logger& log, PgStoreOptions o = {}) {
  auto opened = PgStore::Open(url, log, o);
  EXPECT_TRUE(opened) << opened.error().message();
  return opened ? std::move(*opened) : nullptr;
}

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(url_.empty()); }

  std::string url_ = testing::FreshPostgresDatabase();
  Logger log_{LogLevel::kError};
};

TEST_F(PgStoreTest, ConcurrentInsertsFromTwoInstancesCannotOvershootTheOwnerLimit) {
  constexpr std::size_t kLimit = 7;
  auto a = OpenOk(url_, log_, {.connections = 4});
  auto b = OpenOk(url_, log_, {.connections = 4});
  ASSERT_TRUE(a && b);
  std::atomic<int> inserted{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      PgStore& store = t % 2 == 0 ? *a : *b;
      for (int i = 0; i < 5; ++i) {
        auto r = store.Insert(MakeRecord(100 + t * 10 + i, "owner", kT0), kLimit);
        if (r) {
          ++inserted;
        } else if (r.error() == Errc::kLimitExceeded) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(inserted.load(), static_cast<int>(kLimit));
  EXPECT_EQ(refused.load(), 40 - static_cast<int>(kLimit));
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(a->ListByOwner("owner")->size(), kLimit);
}

// The planner prefers a sequential scan on any small table, so the table gets realistic
// statistics and sequential scans are priced out: what remains a "Seq Scan" has no index that
// could serve it.
TEST_F(PgStoreTest, EveryLookupIsServedByAnIndex) {
  ASSERT_TRUE(OpenOk(url_, log_));
  PgSession raw(url_);
  ASSERT_TRUE(
      raw.Exec("INSERT INTO api_keys SELECT g, 'owner' || (g % 100), 'n', 's',"
               " decode(repeat('ab', 32), 'hex'), g, g, NULL, NULL, NULL, true, NULL, NULL, NULL,"
               " g % 1000, NULL FROM generate_series(1, 5000) AS g; ANALYZE api_keys;"
               " SET enable_seqscan = off"));
  // Sample arguments for each lookup; statements that touch no api_keys row by key (ping,
  // insert, the owner lock) or read the whole table by design (count_all) are not lookups.
  const std::map<std::string, std::string> lookups = {
      {pg::kFind, "(42)"},
      {pg::kFindMany, "('{42,43,44}')"},
      {pg::kFindForUpdate, "(42)"},
      {pg::kListByOwner, "('owner7')"},
      {pg::kTopByUsage, "(0, 10)"},
      {pg::kCountLive, "('owner7')"},
      {pg::kUpdate, "(42, true, 'x', false, NULL, false, NULL, false, NULL, false, NULL, 1)"},
      {pg::kRevoke, "(42, 5, 'r', 5)"},
      {pg::kRotateMark, "(42, 5, 43, 5)"},
      {pg::kDelete, "(42)"},
      {pg::kAddUsage, "('{42,43}', '{1,2}', '{5,6}', '{\"10.0.0.1\",\"\"}')"},
      {pg::kLegacyIds, ""},
  };
  std::size_t explained = 0;
  for (const PgStatementDef& s : pg::Statements()) {
    const auto it = lookups.find(s.name);
    if (it == lookups.end()) continue;
    ++explained;
    ASSERT_TRUE(raw.Exec("PREPARE " + std::string(s.name) + " AS " + s.sql));
    const std::vector<std::string> plan =
        raw.Column("EXPLAIN EXECUTE " + std::string(s.name) + it->second);
    std::string text;
    for (const auto& line : plan) text += line + "\n";
    EXPECT_EQ(text.find("Seq Scan"), std::string::npos) << s.name << ":\n" << text;
    EXPECT_NE(text.find("Index"), std::string::npos) << s.name << ":\n" << text;
  }
  EXPECT_EQ(explained, lookups.size());
}

TEST_F(PgStoreTest, TwoInstancesMigratingOneEmptyDatabaseAtOnceBothSucceed) {
  for (int round = 0; round < 3; ++round) {
    const std::string url = round == 0 ? url_ : testing::FreshPostgresDatabase();
    std::atomic<int> ready{0};
    std::unique_ptr<PgStore> stores[2];
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        ++ready;
        while (ready.load() < 2) std::this_thread::yield();
        stores[i] = OpenOk(url, log_, {.connections = 1});
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_TRUE(stores[0] && stores[1]);
    PgSession raw(url);
    EXPECT_EQ(
        raw.Text("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version"),
        "1,2");
    ASSERT_TRUE(stores[0]->Insert(MakeRecord(1, "a", kT0), 10));
    EXPECT_TRUE(stores[1]->FindById(1)->has_value());
  }
  // Opening again is a no-op.
  ASSERT_TRUE(OpenOk(url_, log_));
  EXPECT_EQ(PgSession(url_).Text("SELECT COUNT(*) FROM schema_version"), "2");
}

TEST_F(PgStoreTest, ANewerSchemaIsRefused) {
  ASSERT_TRUE(OpenOk(url_, log_));
  PgSession raw(url_);
  ASSERT_TRUE(raw.Exec("INSERT INTO schema_version VALUES (99, 0)"));
  CapturingLogger capture;
  auto opened = PgStore::Open(url_, capture.logger());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error(), Errc::kDatabase);
  EXPECT_NE(capture.Text().find("store_schema_too_new"), std::string::npos) << capture.Text();
}

TEST_F(PgStoreTest, ACallBlockedByAnotherSessionsRowLockReturnsATimeout) {
  auto store = OpenOk(url_, log_, {.connections = 1, .timeout = 1000ms});
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Insert(MakeRecord(1, "a", kT0), 10));
  PgSession locker(url_);
  ASSERT_TRUE(locker.Exec("BEGIN; SELECT id FROM api_keys WHERE id = 1 FOR UPDATE"));

  auto revoked = store->Revoke(1, kT0, "x", kT0);
  ASSERT_FALSE(revoked);
  EXPECT_EQ(revoked.error(), Errc::kTimeout);
  KeyPatch patch;
  patch.name = "renamed";
  auto updated = store->Update(1, patch, kT0);
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error(), Errc::kTimeout);
  auto deleted = store->Delete(1);
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error(), Errc::kTimeout);
  // Readers are not blocked by a row lock, and the connection is still usable.
  auto found = store->FindById(1);
  ASSERT_TRUE(found);
  EXPECT_EQ((*found)->name, MakeRecord(1, "a", kT0).name);

  ASSERT_TRUE(locker.Exec("ROLLBACK"));
  EXPECT_TRUE(store->Update(1, patch, kT0));
  EXPECT_EQ((*store->FindById(1))->name, "renamed");
}

TEST_F(PgStoreTest, AnInsertBlockedByTheOwnerLockReturnsATimeout) {
  auto store = OpenOk(url_, log_, {.connections = 1, .timeout = 1000ms});
  ASSERT_TRUE(store);
  PgSession locker(url_);
  ASSERT_TRUE(locker.Exec("BEGIN; SELECT pg_advisory_xact_lock(1263684419, hashtext('a'))"));
  auto inserted = store->Insert(MakeRecord(1, "a", kT0), 10);
  ASSERT_FALSE(inserted);
  EXPECT_EQ(inserted.error(), Errc::kTimeout);
  EXPECT_TRUE(store->Insert(MakeRecord(2, "b", kT0), 10));  // another owner is not held up
  ASSERT_TRUE(locker.Exec("ROLLBACK"));
  EXPECT_TRUE(store->Insert(MakeRecord(1, "a", kT0), 10));
  EXPECT_EQ(*store->CountKeys(), 2u);
}

TEST_F(PgStoreTest, TheStoreAnswersAgainAfterPostgresRestarts) {
  auto store = OpenOk(url_, log_, {.connections = 2});
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Insert(MakeRecord(1, "a", kT0), 10));
  testing::PostgresServerProcess& server = *testing::SharedPostgres();

  ASSERT_TRUE(server.Restart());
  // Every connection of the pool was cut; reads and writes both find their way back.
  for (KeyId id = 2; id < 6; ++id) {
    auto found = store->FindById(1);
    ASSERT_TRUE(found) << found.error().message();
    EXPECT_TRUE(found->has_value());
    auto inserted = store->Insert(MakeRecord(id, "a", kT0), 10);
    EXPECT_TRUE(inserted) << inserted.error().message();
  }

  // While the server is down, calls fail as values; once it is back, they succeed.
  server.Stop();
  EXPECT_FALSE(store->Ping());
  EXPECT_FALSE(store->FindById(1));
  ASSERT_TRUE(server.Start());
  EXPECT_TRUE(store->Ping());
  EXPECT_EQ(*store->CountKeys(), 5u);
}

TEST_F(PgStoreTest, SessionsEndedByTheServerAreReplaced) {
  auto store = OpenOk(url_, log_, {.connections = 2});
  ASSERT_TRUE(store);
  PgSession admin(url_);
  ASSERT_TRUE(
      admin.Exec("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
                 " WHERE application_name = 'keycached'"));
  for (KeyId id = 1; id < 5; ++id) {
    auto inserted = store->Insert(MakeRecord(id, "a", kT0), 10);
    EXPECT_TRUE(inserted) << inserted.error().message();
  }
  EXPECT_EQ(*store->CountKeys(), 4u);
}

TEST_F(PgStoreTest, ConcurrentUsageFlushesAllCount) {
  auto a = OpenOk(url_, log_, {.connections = 2});
  auto b = OpenOk(url_, log_, {.connections = 2});
  ASSERT_TRUE(a && b);
  for (KeyId id = 1; id <= 5; ++id) ASSERT_TRUE(a->Insert(MakeRecord(id, "a", kT0), 10));
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      PgStore& store = t % 2 == 0 ? *a : *b;
      for (int i = 0; i < 20; ++i) {
        // Each batch in another order, and with an id twice.
        std::vector<UsageDelta> batch;
        for (KeyId id = 1; id <= 5; ++id) {
          batch.push_back({(id + t + i) % 5 + 1, 1, kT0 + i, "10.0.0." + std::to_string(t)});
        }
        batch.push_back({3, 1, kT0, ""});
        if (!store.AddUsage(batch)) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  for (KeyId id = 1; id <= 5; ++id) {
    EXPECT_EQ((*a->FindById(id))->usage_count, id == 3 ? 160u : 80u) << id;
    EXPECT_EQ((*a->FindById(id))->last_used_at, kT0 + 19) << id;
  }
}

TEST_F(PgStoreTest, ErrorsAreValuesAndNeverLogARowOrItsHash) {
  CapturingLogger capture(LogLevel::kDebug);
  auto store = OpenOk(url_, capture.logger());
  ASSERT_TRUE(store);
  const KeyRecord r = MakeRecord(1, "a", kT0);
  PgSession raw(url_);
  // The server's detail line for a failed CHECK quotes the whole row, hash included.
  ASSERT_TRUE(
      raw.Exec("ALTER TABLE api_keys ADD CONSTRAINT refuse_all CHECK (created_at < 0) NOT VALID"));
  auto refused = store->Insert(r, 10);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), Errc::kDatabase);
  ASSERT_TRUE(raw.Exec("ALTER TABLE api_keys DROP CONSTRAINT refuse_all"));
  ASSERT_TRUE(store->Insert(r, 10));

  ASSERT_TRUE(raw.Exec("DROP TABLE api_keys"));
  auto found = store->FindById(1);
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error(), Errc::kDatabase);
  const std::vector<UsageDelta> deltas = {{1, 1, kT0, "10.0.0.1"}};
  EXPECT_EQ(store->AddUsage(deltas).error(), Errc::kDatabase);
  EXPECT_TRUE(store->Ping());  // the schema_version table is still there

  const std::string text = capture.Text();
  EXPECT_NE(text.find("23514"), std::string::npos) << text;  // check_violation
  EXPECT_NE(text.find("42P01"), std::string::npos) << text;  // undefined_table
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (std::uint8_t b : r.hash) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  EXPECT_EQ(text.find(hex.substr(0, 16)), std::string::npos) << text;
  EXPECT_EQ(text.find("Failing row"), std::string::npos) << text;
}

TEST(PgStoreOpen, RefusesOtherSchemesAndAnEmptyPool) {
  Logger log(LogLevel::kError);
  EXPECT_EQ(PgStore::Open("sqlite:./x.db", log).error(), Errc::kBadInput);
  EXPECT_EQ(PgStore::Open("mysql://u@h/db", log).error(), Errc::kBadInput);
  EXPECT_EQ(PgStore::Open("postgresql://u@127.0.0.1/db", log, {.connections = 0}).error(),
            Errc::kBadInput);
  EXPECT_TRUE(PgStore::IsPostgresUrl("postgres://u@h/db"));
  EXPECT_TRUE(PgStore::IsPostgresUrl("postgresql://u@h/db"));
}

TEST(PgStoreOpen, AnUnreachableServerFailsWithoutLoggingThePassword) {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  CapturingLogger capture;
  auto opened = PgStore::Open("postgresql://u:s3cret-pw@127.0.0.1:1/db", capture.logger());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error(), Errc::kDatabase);
  EXPECT_NE(capture.Text().find("store_pg_connect_failed"), std::string::npos) << capture.Text();
  EXPECT_EQ(capture.Text().find("s3cret-pw"), std::string::npos) << capture.Text();
}

}  // namespace
}  // namespace keycache
