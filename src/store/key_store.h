// KeyStore: the source of truth for key records. Calls block (SQLite, libpq), so the service
// runs them on its database thread pool, never on an I/O thread. Implementations must be safe to
// call from several threads at once.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/key_id.h"
#include "core/key_record.h"
#include "core/usage_delta.h"
#include "util/clock.h"
#include "util/error.h"

namespace keycache {

struct KeyPatch {
  std::optional<std::string> name;
  std::optional<std::vector<std::string>> scopes;
  std::optional<TimeMs> expires_at;  // kNever clears the expiry
  std::optional<bool> enabled;
  std::optional<std::string> metadata_json;
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // Cheap liveness probe for /health/ready.
  virtual Result<void> Ping() = 0;

  virtual Result<std::optional<KeyRecord>> FindById(KeyId id) = 0;

  // The same for several ids at once: one answer per id, in order (an id may repeat). A store
  // behind a network round trip reads them together (PostgreSQL: one statement); the default
  // reads them one by one.
  virtual std::vector<Result<std::optional<KeyRecord>>> FindByIds(std::span<const KeyId> ids) {
    std::vector<Result<std::optional<KeyRecord>>> out;
    out.reserve(ids.size());
    for (KeyId id : ids) out.push_back(FindById(id));
    return out;
  }
  // True when FindByIds costs about one FindById (one round trip), so callers should batch.
  virtual bool ReadsManyAtOnce() const { return false; }

  // Inserts `record` if its owner has fewer than `max_live_keys` live keys (keys with no
  // revoked_at). Errc::kLimitExceeded when at the limit, Errc::kConflict on a duplicate id.
  // Atomic: two concurrent inserts cannot both pass the limit.
  virtual Result<void> Insert(const KeyRecord& record, std::size_t max_live_keys) = 0;

  // Applies the patch, sets updated_at = now; returns the updated record, or kNotFound.
  virtual Result<KeyRecord> Update(KeyId id, const KeyPatch& patch, TimeMs now) = 0;

  // Sets revoked_at = at (only if not already revoked at or before `at`) and the reason;
  // returns the updated record or kNotFound.
  virtual Result<KeyRecord> Revoke(KeyId id, TimeMs at, std::string_view reason, TimeMs now) = 0;

  // Atomically inserts `replacement` (no owner limit: the old key is leaving) and schedules the
  // old key's revocation at `old_revoked_at` with reason "rotated" and replaced_by set.
  // kNotFound if the old key is gone; kConflict if it is already revoked.
  virtual Result<KeyRecord> Rotate(KeyId old_id, const KeyRecord& replacement,
                                   TimeMs old_revoked_at, TimeMs now) = 0;

  // Returns the deleted record (callers need its owner to invalidate caches), or kNotFound.
  virtual Result<KeyRecord> Delete(KeyId id) = 0;

  // All keys of one owner, newest first.
  virtual Result<std::vector<KeyRecord>> ListByOwner(std::string_view owner_id) = 0;

  // Keys with the highest usage_count that can still verify (not revoked in the past), most used
  // first; for cache warming.
  virtual Result<std::vector<KeyRecord>> TopByUsage(std::size_t limit, TimeMs now) = 0;

  // Adds each delta in one transaction: usage_count += count, last_used_* = the newer value.
  // Deltas for ids that no longer exist are dropped.
  virtual Result<void> AddUsage(std::span<const UsageDelta> deltas) = 0;

  virtual Result<std::uint64_t> CountKeys() = 0;

  // The ids of every stored key issued in the legacy format (KeyFormat::kLegacy), in ascending
  // order; read through an index that holds only those rows.
  virtual Result<std::vector<KeyId>> ListLegacyIds() = 0;
};

}  // namespace keycache
