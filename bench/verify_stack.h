// VerifyStack: keycached's App around a given store, for the benchmarks. Thread-safe as its parts
// are; the benchmarks build one per scenario and share it between benchmark threads.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "app/app.h"
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

// The App (app/app.h) over `store`, not started: its verifier, L1 and database pool, wired exactly
// as keycached wires them.
struct VerifyStack {
  // `hot_entries`: KEYCACHE_L1_HOT_ENTRIES (0: no per-thread front of L1).
  VerifyStack(KeyStore& store, std::string_view pepper, L1Options l1_options = {},
              int db_threads = 1, int hot_entries = Config{}.l1_hot_entries)
      : log(LogLevel::kWarn),
        app(MakeApp(store, pepper, l1_options, db_threads, hot_entries, log)),
        clock(system_clock),
        hasher(app->hasher()),
        l1(app->l1()),
        db(app->db()),
        verifier(app->verifier()) {}

  static std::unique_ptr<App> MakeApp(KeyStore& store, std::string_view pepper, L1Options l1,
                                      int db_threads, int hot_entries, Logger& log) {
    Config config;
    config.l1_hot_entries = hot_entries;
    config.pepper = std::string(pepper);
    config.admin_token = "bench-admin-token-0123456789";
    config.port = 0;
    config.http_threads = 1;
    config.db_threads = db_threads;
    config.cache_max_memory_bytes = l1.max_bytes;
    config.access_log = false;
    config.warm_on_start = false;
    std::string error;
    auto app = App::Create(AppOptions{.config = std::move(config), .store = &store}, log, error);
    if (!app) throw std::runtime_error("App::Create: " + error);
    return app;
  }

  Logger log;
  SystemClock system_clock;
  std::unique_ptr<App> app;
  const Clock& clock;
  const KeyHasher& hasher;
  L1Cache& l1;
  DbExecutor& db;
  Verifier& verifier;
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
