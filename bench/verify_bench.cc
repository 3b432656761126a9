// In-process cost of one verification and of its parts: key parsing, the key HMAC (against
// OpenSSL's one-shot HMAC()), the whole L1-hit path of Verifier::VerifyCached, and raw L1
// lookups under contention with a Zipf-distributed hot set. Memory and store-size flatness are
// in l1_memory_bench.cc and flatness_bench.cc.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/verify_stack.h"
#include "cache/hash_mix.h"
#include "store/sqlite_store.h"
#include "util/log.h"

namespace keycache::bench {
namespace {

constexpr std::size_t kHotKeys = 1'000;

GeneratedKey MakeGenerated(KeyId id, std::string_view pepper = kBenchPepper) {
  return GenerateKeyWithId("ak", id, KeyHasher(pepper)).value();
}
std::string MakeKey(KeyId id) { return MakeGenerated(id).key; }

// The L1 holds kHotKeys valid keys (scopes kSeedScopes-like); nothing is read from the store.
// Built once, on first use, and shared by the threads of a multi-threaded run.
struct HotVerifier {
  explicit HotVerifier(int hot_entries)
      : log(LogLevel::kOff),
        store(SqliteStore::Open(":memory:", log).value()),
        stack(*store, kBenchPepper, L1Options{}, 1, hot_entries) {
    for (std::size_t i = 0; i < kHotKeys; ++i) {
      const KeyId id = MixHash(i + 1);
      GeneratedKey g = MakeGenerated(id);
      keys.push_back(std::move(g.key));
      FillL1(stack.l1, MakeFacts(id, g.hash, {"reports:read", "users:write"}));
      // The same ids under a pepper that is not the server's: what an attacker can mint.
      forged.push_back(
          MakeGenerated(MixHash(kHotKeys + i + 1), "an attacker's guess, 32+ bytes").key);
    }
  }
  Logger log;
  std::unique_ptr<SqliteStore> store;
  VerifyStack stack;
  std::vector<std::string> keys;
  std::vector<std::string> forged;  // well-formed, tags minted without the pepper
};

// Thread counts 1, 2, ... up to twice the cores (at least 2): the scaling curve, and past the
// cores what oversubscription costs. On a 2-core machine: 1 to 4.
void ThreadsUpToTwiceTheCores(benchmark::internal::Benchmark* b) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int t = 1; t <= std::max(2, 2 * cores); ++t) b->Threads(t);
}

HotVerifier& SharedHotVerifier() {
  static HotVerifier instance(Config{}.l1_hot_entries);  // bench-only: shared by a run's threads
  return instance;
}
// The same without the per-thread front of L1 (KEYCACHE_L1_HOT_ENTRIES=0): every hit locks L1.
HotVerifier& SharedHotVerifierWithoutFront() {
  static HotVerifier instance(0);
  return instance;
}

void BM_ParseKey(benchmark::State& state) {
  const std::string key = MakeKey(MixHash(42));
  for (auto _ : state) {
    auto id = ParseKey("ak", key);
    benchmark::DoNotOptimize(id);
  }
}
BENCHMARK(BM_ParseKey);

void BM_HmacKey(benchmark::State& state) {
  const KeyHasher hasher(kBenchPepper);
  const std::string key = MakeKey(MixHash(42));
  for (auto _ : state) {
    KeyHash h = hasher.Hash(key);
    benchmark::DoNotOptimize(h);
  }
}
// Also the scaling control: pure computation, nothing shared, so two threads should double it.
BENCHMARK(BM_HmacKey)->Apply(ThreadsUpToTwiceTheCores)->UseRealTime();

// What KeyHasher replaces: OpenSSL 3's one-shot HMAC() fetches the digest and sets up both pads
// on every call.
void BM_OneShotHmac(benchmark::State& state) {
  const std::string key = MakeKey(MixHash(42));
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  for (auto _ : state) {
    HMAC(EVP_sha256(), kBenchPepper.data(), static_cast<int>(kBenchPepper.size()),
         reinterpret_cast<const unsigned char*>(key.data()), key.size(), out, &out_len);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_OneShotHmac);

// The whole in-process verification of a cached key with one required scope: parse, checksum,
// L1 hit (through the thread's front of L1, cache/hot_facts.h; ...WithoutFront: L1 itself), HMAC,
// decision, scope-decision cache, usage record, metrics. Each thread rotates over the 1,000 keys
// from its own offset.
void VerifyCachedHit(benchmark::State& state, HotVerifier& hot) {
  const std::vector<std::string> scopes = {"reports:read"};
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * (kHotKeys / 2);
  std::variant<VerifyOutcome, PendingVerify> last;
  for (auto _ : state) {
    last = hot.stack.verifier.VerifyCached(hot.keys[i % kHotKeys], scopes, "127.0.0.1");
    benchmark::DoNotOptimize(last);
    ++i;
  }
  const auto* outcome = std::get_if<VerifyOutcome>(&last);
  if (!outcome || outcome->code != VerifyCode::kValid || outcome->cache != CacheStatus::kHit) {
    state.SkipWithError("VerifyCached did not answer VALID from the L1");
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_VerifyCachedHit(benchmark::State& state) { VerifyCachedHit(state, SharedHotVerifier()); }
BENCHMARK(BM_VerifyCachedHit)->Apply(ThreadsUpToTwiceTheCores)->UseRealTime();
void BM_VerifyCachedHitWithoutFront(benchmark::State& state) {
  VerifyCachedHit(state, SharedHotVerifierWithoutFront());
}
BENCHMARK(BM_VerifyCachedHitWithoutFront)->Apply(ThreadsUpToTwiceTheCores)->UseRealTime();

// A flood of forged keys (issue 8: ≥ 0.8× the rate of BM_VerifyCachedHit, database reads per
// forged key ≤ 1 %): parse, checksum, HMAC, tag mismatch, NOT_FOUND. Every answer must come from
// the fast path with no lookup at all (no PendingVerify), which the benchmark checks.
void BM_VerifyForgedKey(benchmark::State& state) {
  HotVerifier& hot = SharedHotVerifier();
  const std::vector<std::string> scopes = {"reports:read"};
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * (kHotKeys / 2);
  std::size_t slow = 0;
  for (auto _ : state) {
    auto r = hot.stack.verifier.VerifyCached(hot.forged[i % kHotKeys], scopes, "127.0.0.1");
    const auto* outcome = std::get_if<VerifyOutcome>(&r);
    slow += outcome == nullptr || outcome->code != VerifyCode::kNotFound ? 1 : 0;
    benchmark::DoNotOptimize(r);
    ++i;
  }
  if (slow != 0) state.SkipWithError("a forged key needed a lookup or was not NOT_FOUND");
  state.counters["lookups_per_key"] =
      benchmark::Counter(static_cast<double>(slow) / static_cast<double>(state.iterations()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyForgedKey)->Threads(1)->Threads(2)->UseRealTime();

// Raw validation-cache lookups: 100,000 cached keys, lookups drawn from a Zipf(0.99) law over
// them (the top 100 keys take 41% of lookups, the top 1,000 60%), so some shard mutexes and some
// entries' shared_ptr counts are hot. /zipf:0 draws uniformly instead, to tell contention on hot
// entries from the cost of a lookup.
struct ZipfL1 {
  static constexpr std::size_t kEntries = 100'000;
  ZipfL1() : l1(L1Options{}, clock) {
    for (std::size_t i = 0; i < kEntries; ++i) {
      ids.push_back(MixHash(i + 1));
      FillL1(l1, MakeFacts(ids.back(), KeyHash{}, {"reports:read", "users:write"}));
    }
    std::vector<double> weights(kEntries);
    for (std::size_t r = 0; r < kEntries; ++r) weights[r] = 1.0 / std::pow(r + 1.0, 0.99);
    rank = std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
  }
  SystemClock clock;
  L1Cache l1;
  std::vector<KeyId> ids;
  std::discrete_distribution<std::size_t> rank;
};

ZipfL1& SharedZipfL1() {
  static ZipfL1 instance;  // bench-only: one fixture for every thread of a run
  return instance;
}

void BM_L1GetFacts(benchmark::State& state) {
  ZipfL1& z = SharedZipfL1();
  constexpr std::size_t kDraws = 1 << 16;
  std::mt19937_64 rng(static_cast<std::uint64_t>(state.thread_index()) + 1);
  auto rank = z.rank;  // a copy per thread: the distribution object is not thread-safe
  std::uniform_int_distribution<std::size_t> uniform(0, ZipfL1::kEntries - 1);
  const bool zipf = state.range(0) != 0;
  std::vector<KeyId> draws(kDraws);
  for (KeyId& id : draws) id = z.ids[zipf ? rank(rng) : uniform(rng)];
  std::size_t i = 0;
  std::size_t misses = 0;
  for (auto _ : state) {
    auto facts = z.l1.GetFacts(draws[i++ & (kDraws - 1)]);
    misses += !facts;
    benchmark::DoNotOptimize(facts);
  }
  if (misses != 0) state.SkipWithError("the L1 missed a key it was filled with");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_L1GetFacts)->ArgName("zipf")->Arg(1)->Arg(0)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace keycache::bench
