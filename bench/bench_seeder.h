// Bench-only bulk seeding of a keycached SQLite database: real keys (GenerateKeyWithId), their
// HMAC under the given pepper, rows written through the store's own column mapping in a few large
// transactions, so that a keycached started on the file with the same pepper verifies them.
// Functions are reentrant; two seeders must not write the same file at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/key_id.h"
#include "util/error.h"
#include "util/log.h"

namespace keycache::bench {

inline const std::vector<std::string> kSeedScopes = {"reports:read", "users:write"};

struct SeedOptions {
  std::string db_path;  // created (with its schema) if missing
  std::string pepper;   // >= kMinPepperBytes
  std::uint64_t count = 0;
  std::uint64_t keep = 0;  // plaintexts returned for the first `keep` keys (the hot set)
  std::string prefix = "ak";
  std::uint64_t keys_per_owner = 10;  // owners "owner-0".. get this many keys each
  // Ids are MixHash(id_seed * 2^40 + 1 + i): distinct, non-zero, spread over the id space,
  // and the same for the same seed. Seeding the same file twice needs another seed.
  std::uint64_t id_seed = 1;
  std::vector<std::string> scopes = kSeedScopes;
};

struct SeededKeys {
  std::vector<std::string> keys;  // plaintexts of the first `keep` keys, in generation order
  std::vector<KeyId> ids;         // their ids, same order
  double seconds = 0;             // wall time of the whole seeding
};

// Rows are inserted in ascending id order (append-only B-tree pages) in transactions of 100,000
// rows, bypassing the per-owner limit; ends with a WAL checkpoint. Errc::kDatabase (logged) on
// any SQLite failure, including an id that already exists; kUnavailable if the CSPRNG fails.
Result<SeededKeys> BulkSeed(const SeedOptions& options, Logger& log);

// The same keys through the public path, GenerateKeyWithId + SqliteStore::Insert, one
// transaction per key: the reference that BulkSeed is measured against.
Result<SeededKeys> SeedThroughStore(const SeedOptions& options, Logger& log);

}  // namespace keycache::bench
