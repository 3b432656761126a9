// Seeded SQLite databases for the benchmarks: each size seeded once per process (bench_seeder.h)
// in a temporary directory removed at exit, with the plaintexts of a hot set of keys.
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "bench/bench_seeder.h"
#include "bench/verify_stack.h"
#include "store/sqlite_store.h"
#include "util/log.h"

namespace keycache::bench {

inline constexpr std::uint64_t kHotSet = 1'000;

struct SeededStore {
  std::string path;
  SeededKeys hot;
  std::unique_ptr<SqliteStore> store;  // opened with the default read connections
};

// A temporary directory of seeded databases, each size seeded once per process and removed at
// exit. Bench-only shared state: Google Benchmark calls a benchmark function many times.
class SeededStores {
 public:
  SeededStores() : log_(LogLevel::kWarn) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/keycache-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    dir_ = pattern;
  }
  ~SeededStores() {
    stores_.clear();  // close the databases before their files go
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  SeededStore& Get(std::uint64_t count) {
    auto it = stores_.find(count);
    if (it != stores_.end()) return it->second;
    SeedOptions o;
    o.db_path = NewPath();
    o.pepper = std::string(kBenchPepper);
    o.count = count;
    o.keep = kHotSet;
    SeededStore s;
    s.path = o.db_path;
    s.hot = BulkSeed(o, log_).value();
    s.store = SqliteStore::Open(o.db_path, log_).value();
    return stores_.emplace(count, std::move(s)).first->second;
  }

  std::string NewPath() { return (dir_ / ("seed-" + std::to_string(next_++) + ".db")).string(); }
  Logger& log() { return log_; }

 private:
  Logger log_;
  std::filesystem::path dir_;
  int next_ = 0;
  std::map<std::uint64_t, SeededStore> stores_;
};

inline SeededStores& Stores() {
  static SeededStores instance;
  return instance;
}

}  // namespace keycache::bench
