// Does verification cost depend on how many keys the store holds? End to end through
// Verifier::Verify (the coroutine the HTTP layer awaits) over one hot set of 1,000 keys, with the
// store seeded with 10,000, 100,000 or 1,000,000 keys:
//   BM_VerifyWarm  every hot key is in the L1: the answer never leaves memory;
//   BM_VerifyCold  the key's L1 entry is invalidated before each call, so each verification is
//                  a miss: single-flight, a SqliteStore read on the database pool, a fenced
//                  fill, and the hand-off back to the awaiting coroutine;
//   BM_StoreFindById  the store read alone, on the same hot set.
// Also how long seeding takes: BM_SeedThroughStore (GenerateKeyWithId + SqliteStore::Insert,
// one transaction per key) against BM_BulkSeed (bench_seeder.h), as us_per_key and the
// projected time for 1M keys.
#include <benchmark/benchmark.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "bench/bench_seeder.h"
#include "bench/seeded_stores.h"
#include "bench/verify_stack.h"
#include "store/sqlite_store.h"
#include "util/log.h"

namespace keycache::bench {
namespace {

// By reference, against the style rule for coroutines: everything referred to outlives the
// io_context.run() that drives this coroutine to its end.
boost::asio::awaitable<void> VerifyLoop(benchmark::State& state, VerifyStack& stack,
                                        const SeededKeys& hot, bool cold, bool& all_valid) {
  const std::size_t n = hot.keys.size();
  // Named, not literals: g++ 12 rejects a string literal passed to a by-value coroutine
  // parameter inside co_await ("array used as initializer"; see also docs/adr/0002).
  const std::vector<std::string> scopes = {"reports:read"};
  const std::string ip = "127.0.0.1";
  // Every hot key once, untimed: the warm run then starts with the whole hot set cached.
  for (std::size_t k = 0; k < n; ++k) {
    auto r = co_await stack.verifier.Verify(hot.keys[k], scopes, ip);
    all_valid &= r && r->code == VerifyCode::kValid;
  }
  const CacheStatus expected = cold ? CacheStatus::kMiss : CacheStatus::kHit;
  std::size_t i = 0;
  for (auto _ : state) {
    const std::size_t k = i++ % n;
    if (cold) stack.l1.InvalidateKey(hot.ids[k]);
    auto r = co_await stack.verifier.Verify(hot.keys[k], scopes, ip);
    all_valid &= r && r->code == VerifyCode::kValid && r->cache == expected;
  }
}

void RunVerify(benchmark::State& state, bool cold) {
  const auto count = static_cast<std::uint64_t>(state.range(0));
  SeededStore& seeded = Stores().Get(count);
  // Before the stack: a database thread may drop the last reference to a Completion (and so
  // destroy its timer) after the loop ends, so the pool must be joined while `io` still exists.
  boost::asio::io_context io(1);
  VerifyStack stack(*seeded.store, kBenchPepper);  // a fresh L1 for every run
  bool all_valid = true;
  boost::asio::co_spawn(io, VerifyLoop(state, stack, seeded.hot, cold, all_valid),
                        boost::asio::detached);
  io.run();
  if (!all_valid) state.SkipWithError("a verification was not VALID with the expected status");
  state.SetItemsProcessed(state.iterations());
  state.counters["store_keys"] = static_cast<double>(count);
  state.counters["seed_s"] = seeded.hot.seconds;
}

// The store read alone (what BM_VerifyCold adds to a hit, less the hand-offs between threads).
void BM_StoreFindById(benchmark::State& state) {
  const auto count = static_cast<std::uint64_t>(state.range(0));
  SeededStore& seeded = Stores().Get(count);
  std::size_t i = 0;
  bool all_found = true;
  for (auto _ : state) {
    auto record = seeded.store->FindById(seeded.hot.ids[i++ % seeded.hot.ids.size()]);
    all_found &= record && record->has_value();
    benchmark::DoNotOptimize(record);
  }
  if (!all_found) state.SkipWithError("a seeded key was not found");
  state.SetItemsProcessed(state.iterations());
  state.counters["store_keys"] = static_cast<double>(count);
}
BENCHMARK(BM_StoreFindById)->Arg(10'000)->Arg(100'000)->Arg(1'000'000);

void BM_VerifyWarm(benchmark::State& state) { RunVerify(state, /*cold=*/false); }
void BM_VerifyCold(benchmark::State& state) { RunVerify(state, /*cold=*/true); }
BENCHMARK(BM_VerifyWarm)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->UseRealTime();
BENCHMARK(BM_VerifyCold)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->UseRealTime();

template <Result<SeededKeys> (*Seed)(const SeedOptions&, Logger&)>
void SeedRun(benchmark::State& state) {
  for (auto _ : state) {
    SeedOptions o;
    o.db_path = Stores().NewPath();
    o.pepper = std::string(kBenchPepper);
    o.count = static_cast<std::uint64_t>(state.range(0));
    auto seeded = Seed(o, Stores().log());
    if (!seeded) {
      state.SkipWithError("seeding failed");
      return;
    }
    const double per_key = seeded->seconds / static_cast<double>(o.count);
    state.counters["us_per_key"] = per_key * 1e6;
    state.counters["projected_1M_s"] = per_key * 1e6;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(o.db_path + suffix);
  }
}
void BM_SeedThroughStore(benchmark::State& state) { SeedRun<SeedThroughStore>(state); }
void BM_BulkSeed(benchmark::State& state) { SeedRun<BulkSeed>(state); }
BENCHMARK(BM_SeedThroughStore)->Arg(5'000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BulkSeed)->Arg(100'000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace keycache::bench
