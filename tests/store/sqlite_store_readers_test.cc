// SqliteStore's read connections: lookups run beside each other and beside a writer that waits
// for the file's write lock, and every read sees every write committed before it started.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite_store.h"
#include "store_test_util.h"

namespace keycache {
namespace {

using namespace std::chrono_literals;
using testing::MakeRecord;
using testing::RawDb;
using testing::TempDir;

constexpr TimeMs kT0 = 1'700'000'000'000;

std::unique_ptr<SqliteStore> OpenStore(const std::string& path, Logger& log, int readers) {
  auto opened = SqliteStore::Open(path, log, {.readers = readers});
  EXPECT_TRUE(opened) << opened.error().message();
  return opened ? std::move(*opened) : nullptr;
}

TEST(SqliteStoreReaders, LookupsAnswerWhileAWriterWaitsForTheWriteLock) {
  TempDir dir;
  Logger log{LogLevel::kError};
  const std::string path = dir.File("keys.db");
  auto store = OpenStore(path, log, 2);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Insert(MakeRecord(1, "alice", kT0), 10));

  // Another process holds the write lock (a long migration, a stuck writer)...
  RawDb other(path);
  other.Exec("BEGIN IMMEDIATE");
  // ...and a revocation waits for it on the store's write connection (busy_timeout 5 s).
  std::future<Result<KeyRecord>> revoke =
      std::async(std::launch::async, [&] { return store->Revoke(1, kT0 + 1, "gone", kT0 + 1); });
  std::this_thread::sleep_for(200ms);  // lets the revocation reach its wait (order, not timing)
  ASSERT_EQ(revoke.wait_for(0s), std::future_status::timeout) << "the lock was not held";

  // Reads do not queue behind it. (Bounded: if they did, they would wait the whole busy
  // timeout, and the revocation would have answered first.)
  std::future<bool> reads = std::async(std::launch::async, [&] {
    auto found = store->FindById(1);
    auto listed = store->ListByOwner("alice");
    auto top = store->TopByUsage(10, kT0);
    auto count = store->CountKeys();
    return found && found->has_value() && (*found)->revoked_at == kNever && listed &&
           listed->size() == 1 && top && top->size() == 1 && count && *count == 1 &&
           store->Ping().has_value();
  });
  ASSERT_EQ(reads.wait_for(4s), std::future_status::ready) << "reads queued behind the writer";
  EXPECT_TRUE(reads.get()) << "reads failed or saw the uncommitted revocation";
  EXPECT_EQ(revoke.wait_for(0s), std::future_status::timeout)
      << "the revocation ended before the reads: they were serialized behind it";

  other.Exec("ROLLBACK");
  Result<KeyRecord> revoked = revoke.get();
  ASSERT_TRUE(revoked) << revoked.error().message();
  // A read that starts after the commit sees it, on whichever connection it runs.
  for (int i = 0; i < 8; ++i) {
    auto found = store->FindById(1);
    ASSERT_TRUE(found && found->has_value());
    EXPECT_EQ((*found)->revoked_at, kT0 + 1);
  }
}

TEST(SqliteStoreReaders, EveryReadSeesTheWritesCommittedBeforeIt) {
  TempDir dir;
  Logger log{LogLevel::kError};
  auto store = OpenStore(dir.File("keys.db"), log, 3);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Insert(MakeRecord(1, "alice", kT0), 10));

  // One writer raises updated_at step by step; readers on other threads must never see it go
  // back, and each read after a write returned sees at least that write.
  std::atomic<TimeMs> committed{kT0};
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, reads_done{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      TimeMs last = kT0;
      while (!stop.load()) {
        const TimeMs floor = committed.load();
        auto found = store->FindById(1);
        if (!found || !found->has_value() || (*found)->updated_at < floor ||
            (*found)->updated_at < last) {
          ++failures;
          return;
        }
        last = (*found)->updated_at;
        ++reads_done;
      }
    });
  }
  for (TimeMs now = kT0 + 1; now <= kT0 + 300; ++now) {
    KeyPatch patch;
    patch.name = "name " + std::to_string(now);
    ASSERT_TRUE(store->Update(1, patch, now));
    committed.store(now);
  }
  while (reads_done.load() < 300 && failures.load() == 0) std::this_thread::yield();
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(reads_done.load(), 300);
}

TEST(SqliteStoreReaders, AnInMemoryDatabaseReadsOnItsOnlyConnection) {
  Logger log{LogLevel::kError};
  auto store = OpenStore(":memory:", log, 4);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Insert(MakeRecord(7, "bob", kT0), 10));
  auto found = store->FindById(7);
  ASSERT_TRUE(found && found->has_value()) << "a second connection would see an empty database";
  EXPECT_EQ(*store->CountKeys(), 1u);
}

TEST(SqliteStoreReaders, ZeroReadersReadOnTheWriteConnectionAndNegativeSizesAreRefused) {
  TempDir dir;
  Logger log{LogLevel::kError};
  auto store = OpenStore(dir.File("keys.db"), log, 0);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Insert(MakeRecord(3, "carol", kT0), 10));
  auto found = store->FindById(3);
  EXPECT_TRUE(found && found->has_value());

  auto refused = SqliteStore::Open(dir.File("other.db"), log, {.readers = -1});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), make_error_code(Errc::kBadInput));
  auto bad_cache = SqliteStore::Open(dir.File("other.db"), log, {.reader_cache_kib = -1});
  ASSERT_FALSE(bad_cache);
  EXPECT_EQ(bad_cache.error(), make_error_code(Errc::kBadInput));
}

}  // namespace
}  // namespace keycache
