// The miss path on SQLite against its floor, in the same run:
//   BM_RawSqlitePointLookup    the reference: one thread, one connection, a prepared point lookup
//                              by id over the hot set, every column read (what any program that
//                              reads this file pays per key);
//   BM_VerifyColdConcurrent/T/C  cold verifications of distinct keys through Verifier::Verify: 64
//                              in flight on one I/O thread, T database threads over a store with
//                              T read connections of C KiB page cache each; each key's L1 entry
//                              is invalidated first, so every call is an HMAC, a store read on
//                              the pool and a fill.
// The store holds 1,000,000 keys; the hot set is 1,000 of them.
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "bench/seeded_stores.h"
#include "bench/verify_stack.h"
#include "store/sqlite_row.h"
#include "store/sqlite_store.h"

namespace keycache::bench {
namespace {

constexpr std::uint64_t kStoreKeys = 1'000'000;
constexpr std::size_t kInFlight = 64;

void BM_RawSqlitePointLookup(benchmark::State& state) {
  SeededStore& seeded = Stores().Get(kStoreKeys);
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  const std::string sql = "SELECT " + std::string(kRecordColumns) + " FROM api_keys WHERE id = ?1";
  if (sqlite3_open_v2(seeded.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    sqlite3_close_v2(db);
    state.SkipWithError("cannot open or prepare");
    return;
  }
  const std::vector<KeyId>& ids = seeded.hot.ids;
  std::size_t i = 0;
  bool all_found = true;
  for (auto _ : state) {
    sqlite3_bind_int64(stmt, 1, IdToSql(ids[i++ % ids.size()]));
    const bool found = sqlite3_step(stmt) == SQLITE_ROW;
    all_found &= found;
    if (found) {
      std::size_t bytes = 0;
      for (int c = 0; c < kRecordColumnCount; ++c) {
        benchmark::DoNotOptimize(sqlite3_column_int64(stmt, c));
        bytes += static_cast<std::size_t>(sqlite3_column_bytes(stmt, c));
      }
      benchmark::DoNotOptimize(bytes);
    }
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  sqlite3_close_v2(db);
  if (!all_found) state.SkipWithError("a seeded key was not found");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawSqlitePointLookup)->UseRealTime();

// By reference, against the style rule for coroutines: everything referred to outlives the
// io_context.run() that drives this coroutine to its end.
boost::asio::awaitable<void> ColdWorker(VerifyStack& stack, const SeededKeys& hot,
                                        std::size_t first, bool& all_valid) {
  const std::vector<std::string> scopes = {"reports:read"};
  const std::string ip = "127.0.0.1";
  for (std::size_t k = first; k < hot.keys.size(); k += kInFlight) {
    stack.l1.InvalidateKey(hot.ids[k]);
    auto r = co_await stack.verifier.Verify(hot.keys[k], scopes, ip);
    all_valid &= r && r->code == VerifyCode::kValid && r->cache == CacheStatus::kMiss;
  }
}

void BM_VerifyColdConcurrent(benchmark::State& state) {
  const int db_threads = static_cast<int>(state.range(0));
  const int cache_kib = static_cast<int>(state.range(1));
  SeededStore& seeded = Stores().Get(kStoreKeys);
  auto store = SqliteStore::Open(seeded.path, Stores().log(),
                                 {.readers = db_threads, .reader_cache_kib = cache_kib});
  if (!store) {
    state.SkipWithError("cannot open the store");
    return;
  }
  boost::asio::io_context io(1);  // before the stack: see flatness_bench.cc
  VerifyStack stack(**store, kBenchPepper, L1Options{}, db_threads);
  bool all_valid = true;
  for (auto _ : state) {
    // One batch: every hot key once, kInFlight verifications at a time.
    for (std::size_t c = 0; c < kInFlight; ++c) {
      boost::asio::co_spawn(io, ColdWorker(stack, seeded.hot, c, all_valid), boost::asio::detached);
    }
    io.restart();
    io.run();
  }
  if (!all_valid) state.SkipWithError("a verification was not a VALID miss");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(seeded.hot.keys.size()));
  state.counters["db_threads"] = db_threads;
  state.counters["reader_cache_kib"] = cache_kib;
}
// The default reader cache (SqliteStoreOptions), then SQLite's own default and a tiny one.
BENCHMARK(BM_VerifyColdConcurrent)
    ->ArgNames({"db_threads", "cache_kib"})
    ->Args({1, 256})
    ->Args({2, 256})
    ->Args({2, 2000})
    ->Args({2, 64})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace keycache::bench
