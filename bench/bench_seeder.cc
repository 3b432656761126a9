#include "bench/bench_seeder.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <utility>

#include "cache/hash_mix.h"
#include "core/api_key.h"
#include "core/key_hasher.h"
#include "core/key_record.h"
#include "store/sqlite_row.h"
#include "store/sqlite_statement.h"
#include "store/sqlite_store.h"
#include "util/clock.h"

namespace keycache::bench {
namespace {

// Large enough that commits cost nothing per row, small enough to keep the WAL file modest.
constexpr std::uint64_t kRowsPerTransaction = 100'000;

KeyId SeedId(std::uint64_t seed, std::uint64_t i) { return MixHash((seed << 40) + 1 + i); }

Result<void> CheckOptions(const SeedOptions& o) {
  if (o.pepper.size() < kMinPepperBytes || !IsValidKeyPrefix(o.prefix) || o.keep > o.count ||
      o.keys_per_owner == 0 || o.count >= (std::uint64_t{1} << 40) || o.id_seed >= (1u << 23) ||
      !ScopesEncodable(o.scopes)) {
    return make_error_code(Errc::kBadInput);
  }
  return {};
}

KeyRecord MakeRecord(const SeedOptions& o, std::uint64_t i, KeyId id, const KeyHash& hash,
                     TimeMs now) {
  KeyRecord r;
  r.id = id;
  r.owner_id = "owner-" + std::to_string(i / o.keys_per_owner);
  r.name = "bench-" + std::to_string(i);
  r.scopes = o.scopes;
  r.hash = hash;
  r.created_at = now - static_cast<TimeMs>(o.count - i);  // distinct, oldest first
  r.updated_at = r.created_at;
  return r;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Creates the file and its schema exactly as keycached would, through the store itself.
Result<void> EnsureSchema(const std::string& path, Logger& log) {
  auto store = SqliteStore::Open(path, log);
  if (!store) return store.error();
  return {};
}

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

Result<void> Exec(sqlite3* db, const char* sql, Logger& log) {
  if (int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
    return SqliteError(log, db, rc, "bench_seed");
  }
  return {};
}

}  // namespace

Result<SeededKeys> BulkSeed(const SeedOptions& o, Logger& log) {
  if (auto ok = CheckOptions(o); !ok) return ok.error();
  const auto started = std::chrono::steady_clock::now();
  if (auto schema = EnsureSchema(o.db_path, log); !schema) return schema.error();

  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(o.db_path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  if (rc != SQLITE_OK) return SqliteError(log, raw, rc, "bench_seed_open");
  sqlite3_extended_result_codes(raw, 1);  // so SqliteError tells a duplicate id (kConflict)
  // A seed file that a crash corrupts is simply seeded again: durability buys nothing here.
  for (const char* pragma :
       {"PRAGMA busy_timeout = 5000", "PRAGMA synchronous = OFF", "PRAGMA cache_size = -65536"}) {
    if (auto r = Exec(raw, pragma, log); !r) return r.error();
  }
  // Declared after `db`, so it is finalized before the connection closes.
  SqliteStatement insert;
  rc = insert.Prepare(raw, "INSERT INTO api_keys (" + std::string(kRecordColumns) +
                               ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
                               " ?13, ?14, ?15, ?16, ?17)");
  if (rc != SQLITE_OK) return SqliteError(log, raw, rc, "bench_seed_prepare");

  // Ascending ids turn a million random B-tree inserts into appends.
  std::vector<std::pair<KeyId, std::uint64_t>> order(o.count);
  for (std::uint64_t i = 0; i < o.count; ++i) order[i] = {SeedId(o.id_seed, i), i};
  std::sort(order.begin(), order.end());

  SeededKeys out;
  out.keys.resize(o.keep);
  out.ids.resize(o.keep);
  const KeyHasher hasher(o.pepper);
  const TimeMs now = SystemClock().NowMs();
  if (auto r = Exec(raw, "BEGIN", log); !r) return r.error();
  for (std::uint64_t n = 0; n < o.count; ++n) {
    const auto [id, i] = order[n];
    auto generated = GenerateKeyWithId(o.prefix, id, hasher);
    if (!generated) return generated.error();
    {
      StatementScope scope(insert);
      BindRecord(insert, 1, MakeRecord(o, i, id, generated->hash, now));
      if (rc = insert.Step(); rc != SQLITE_DONE) {
        auto ec = SqliteError(log, raw, rc, "bench_seed_insert");  // kConflict: seeded twice
        sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr);
        return ec;
      }
    }
    if (i < o.keep) {
      out.keys[i] = std::move(generated->key);
      out.ids[i] = id;
    }
    if ((n + 1) % kRowsPerTransaction == 0) {
      if (auto r = Exec(raw, "COMMIT; BEGIN", log); !r) return r.error();
    }
  }
  if (auto r = Exec(raw, "COMMIT", log); !r) return r.error();
  if (auto r = Exec(raw, "PRAGMA wal_checkpoint(TRUNCATE)", log); !r) return r.error();
  out.seconds = SecondsSince(started);
  return out;
}

Result<SeededKeys> SeedThroughStore(const SeedOptions& o, Logger& log) {
  if (auto ok = CheckOptions(o); !ok) return ok.error();
  const auto started = std::chrono::steady_clock::now();
  auto store = SqliteStore::Open(o.db_path, log);
  if (!store) return store.error();
  SeededKeys out;
  const KeyHasher hasher(o.pepper);
  const TimeMs now = SystemClock().NowMs();
  for (std::uint64_t i = 0; i < o.count; ++i) {
    const KeyId id = SeedId(o.id_seed, i);
    auto generated = GenerateKeyWithId(o.prefix, id, hasher);
    if (!generated) return generated.error();
    auto inserted = (*store)->Insert(MakeRecord(o, i, id, generated->hash, now),
                                     std::numeric_limits<std::size_t>::max());
    if (!inserted) return inserted.error();
    if (i < o.keep) {
      out.keys.push_back(std::move(generated->key));
      out.ids.push_back(id);
    }
  }
  out.seconds = SecondsSince(started);
  return out;
}

}  // namespace keycache::bench
