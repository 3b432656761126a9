// Memory per cached key: 100,000 validation entries, each with two short scopes, put into an
// L1Cache, measured two ways and reported as counters (bytes per entry):
//   l1_bytes_per_entry    what the cache charges itself (L1Sizes().bytes / n): the facts, their
//                         control block, strings and vector, plus node and index overhead;
//   heap_bytes_per_entry  what malloc actually handed out (mallinfo2 uordblks + hblkhd, after
//                         minus before) / n: adds allocator headers and rounding, index slack.
// Both exclude the scope strings' own bytes (their characters, plus a heap block for a string
// too long for the small-string buffer), reported apart as scope_bytes_per_entry, so the figure
// is the per-key overhead whatever the scopes are. The *_raw counters include them.
// The heap figure needs glibc's malloc: under AddressSanitizer mallinfo2() does not see the heap.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/verify_stack.h"
#include "cache/hash_mix.h"

namespace keycache::bench {
namespace {

constexpr std::size_t kEntries = 100'000;

std::size_t HeapInUse() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;  // small chunks in every arena + mmapped large blocks
}

std::size_t ScopeOwnBytes(const std::string& s) {
  static const std::size_t kInlineChars = std::string().capacity();
  return s.size() + (s.capacity() > kInlineChars ? s.capacity() + 1 : 0);
}

void BM_L1MemoryPerEntry(benchmark::State& state) {
  for (auto _ : state) {
    SystemClock clock;
    std::vector<KeyId> ids(kEntries);
    for (std::size_t i = 0; i < kEntries; ++i) ids[i] = MixHash(i + 1);
    const std::vector<std::string> scopes = {"reports:read", "users:write"};
    auto l1 = std::make_unique<L1Cache>(L1Options{}, clock);

    const std::size_t heap_before = HeapInUse();
    std::size_t scope_bytes = 0;
    for (const KeyId id : ids) {
      auto facts = MakeFacts(id, KeyHash{}, scopes);
      for (const std::string& s : facts->scopes) scope_bytes += ScopeOwnBytes(s);
      if (!FillL1(*l1, std::move(facts))) state.SkipWithError("an L1 fill was refused");
    }
    const std::size_t heap_after = HeapInUse();

    const L1Sizes sizes = l1->Sizes();
    if (sizes.validation != kEntries) state.SkipWithError("the L1 evicted entries");
    const double n = static_cast<double>(kEntries);
    const double scope_per_entry = static_cast<double>(scope_bytes) / n;
    const double l1_raw = static_cast<double>(sizes.bytes) / n;
    const double heap_raw = static_cast<double>(heap_after - heap_before) / n;
    state.counters["l1_bytes_per_entry"] = l1_raw - scope_per_entry;
    state.counters["heap_bytes_per_entry"] = heap_raw - scope_per_entry;
    state.counters["scope_bytes_per_entry"] = scope_per_entry;
    state.counters["l1_raw_bytes_per_entry"] = l1_raw;
    state.counters["heap_raw_bytes_per_entry"] = heap_raw;
    state.counters["entries"] = n;
  }
}
// One iteration: the measurement is the counters; the time is that of 100,000 fills.
BENCHMARK(BM_L1MemoryPerEntry)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace keycache::bench
