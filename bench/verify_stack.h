// VerifyStack: the objects serve.cc wires around a Verifier (clock, hasher, L1, metrics, usage,
// database pool), built the same way for the benchmarks. Thread-safe as its parts are; the
// benchmarks build one per scenario and share it between benchmark threads.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/l1_cache.h"
#include "cache/usage_counter.h"
#include "core/api_key.h"
#include "core/key_facts.h"
#include "core/key_hasher.h"
#include "metrics/hit_rate_window.h"
#include "metrics/registry.h"
#include "service/db_executor.h"
#include "service/service_metrics.h"
#include "service/verifier.h"
#include "store/key_store.h"
#include "util/clock.h"

namespace keycache::bench {

// 32 bytes, the minimum keycached accepts; the value only has to be the same on both sides.
inline constexpr std::string_view kBenchPepper = "bench-pepper-0123456789abcdef-0123456789";

struct VerifyStack {
  VerifyStack(KeyStore& store, std::string_view pepper, L1Options l1_options = {},
              int db_threads = 1)
      : hasher(pepper),
        window(clock),
        metrics(registry, window),
        l1(l1_options, clock),
        db(db_threads, std::chrono::milliseconds(5000)),
        verifier({"ak", true}, hasher, l1, store, db, usage, metrics, clock) {}

  SystemClock clock;
  KeyHasher hasher;
  Registry registry;
  HitRateWindow window;
  ServiceMetrics metrics;
  L1Cache l1;
  UsageCounter usage;
  DbExecutor db;
  Verifier verifier;
};

// Facts as KeyFacts::From would build them for a stored key.
inline std::shared_ptr<const KeyFacts> MakeFacts(KeyId id, const KeyHash& hash,
                                                 std::vector<std::string> scopes) {
  KeyFacts f;
  f.id = id;
  f.hash = hash;
  f.owner_id = "owner-" + std::to_string(id % 100'000);
  f.scopes = std::move(scopes);
  return std::make_shared<const KeyFacts>(std::move(f));
}

// Puts `facts` into the L1 through the fenced fill, as a store read would.
inline bool FillL1(L1Cache& l1, std::shared_ptr<const KeyFacts> facts) {
  const KeyId id = facts->id;
  const FactsFillTicket ticket = l1.BeginFactsFill(id);
  return l1.CompleteFactsFill(id, std::move(facts), ticket);
}

}  // namespace keycache::bench
