// KeyArchive: every stored record in bulk, for `keycached export` and `keycached import` (moving
// a deployment from one store to another, docs/operations.md). Records travel as stored: the
// keyed hash, never a plaintext, and the usage counters. Implemented by SqliteStore and PgStore;
// thread-safe like them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/key_id.h"
#include "core/key_record.h"
#include "util/error.h"

namespace keycache {

struct ImportCounts {
  std::uint64_t inserted = 0;  // new rows
  std::uint64_t present = 0;   // the same key was already there (left as it is)
  std::uint64_t skipped = 0;   // another key held the id (only with skip_existing)
};

// The same key: id, owner, hash, format and creation time (what no operation ever changes). Other
// fields (state, usage) may have moved on since an export; that is still the same key.
inline bool SameKey(const KeyRecord& a, const KeyRecord& b) {
  return a.id == b.id && a.owner_id == b.owner_id && a.hash == b.hash && a.format == b.format &&
         a.created_at == b.created_at;
}

// Counts a record whose id is already stored (`stored`) into `counts`, as ImportBatch documents:
// present when it is the same key, skipped when another key holds the id and `skip_existing`.
// False for a conflict (the caller rolls the batch back); `conflict` is then set.
inline bool CountStoredId(const KeyRecord& stored, const KeyRecord& r, bool skip_existing,
                          ImportCounts& counts, KeyId& conflict) {
  if (SameKey(stored, r)) {
    ++counts.present;
  } else if (skip_existing) {
    ++counts.skipped;
  } else {
    conflict = r.id;
    return false;
  }
  return true;
}

class KeyArchive {
 public:
  virtual ~KeyArchive() = default;
  // Up to `limit` records, in the store's id order, after the record with id `after` (nullopt:
  // from the first). An empty page is the end.
  virtual Result<std::vector<KeyRecord>> ExportPage(std::optional<KeyId> after,
                                                    std::size_t limit) = 0;
  // In one transaction, inserts each record as it is (no owner limit: it held where the key was
  // made). An id already stored with SameKey counts as present and is left alone, so importing a
  // file twice changes nothing. An id stored for another key is a conflict: with
  // `skip_existing` it is counted as skipped; without, the batch is rolled back and
  // Errc::kConflict returned with `conflict` set to that id. Errc::kBadInput for unencodable
  // scopes (as Insert).
  virtual Result<ImportCounts> ImportBatch(std::span<const KeyRecord> records, bool skip_existing,
                                           KeyId& conflict) = 0;
};

}  // namespace keycache
