// LegacyKeyIds: the ids of the stored keys issued in the legacy format (core/api_key.h). Legacy
// keys carry no tag, so anyone can mint well-formed ones; the verifier refuses a legacy-format key
// whose id is not in this set without reading the store. keycache no longer issues legacy keys,
// so the set only shrinks in steady state; it can grow while an older version still issues them
// (a rolling upgrade) or when an import adds some, which is why a legacy id the set lacks makes
// the verifier reload it from the store — at most once per reload interval, so a flood of forged
// legacy keys costs at most one store read an interval (docs/adr/0006-tagged-keys.md).
//
// Until the first reload has completed the set is unknown and the verifier looks every legacy
// key up as before. Thread-safe: readers take an immutable snapshot (no lock held while
// searching).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "core/key_id.h"
#include "util/clock.h"

namespace keycache {

class LegacyKeyIds {
 public:
  explicit LegacyKeyIds(std::chrono::milliseconds reload_interval = std::chrono::seconds(1))
      : interval_ms_(reload_interval.count()) {}

  // Has a reload completed?
  bool known() const { return snapshot_.load(std::memory_order_acquire) != nullptr; }
  // Precondition: known().
  bool Contains(KeyId id) const;
  std::size_t size() const;

  // True, and the reload is the caller's, if none began within the interval before `now`.
  bool ClaimReload(TimeMs now);
  // Installs what a reload read: every legacy id, ascending.
  void Replace(std::vector<KeyId> sorted_ids);

 private:
  using Ids = std::vector<KeyId>;
  const std::int64_t interval_ms_;
  std::atomic<std::shared_ptr<const Ids>> snapshot_;
  std::atomic<TimeMs> last_claim_{INT64_MIN / 2};
};

}  // namespace keycache
