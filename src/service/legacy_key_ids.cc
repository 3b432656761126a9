#include "service/legacy_key_ids.h"

#include <algorithm>

namespace keycache {

bool LegacyKeyIds::Contains(KeyId id) const {
  const std::shared_ptr<const Ids> ids = snapshot_.load(std::memory_order_acquire);
  return ids && std::binary_search(ids->begin(), ids->end(), id);
}

std::size_t LegacyKeyIds::size() const {
  const std::shared_ptr<const Ids> ids = snapshot_.load(std::memory_order_acquire);
  return ids ? ids->size() : 0;
}

bool LegacyKeyIds::ClaimReload(TimeMs now) {
  TimeMs last = last_claim_.load(std::memory_order_relaxed);
  while (now - last >= interval_ms_) {
    if (last_claim_.compare_exchange_weak(last, now, std::memory_order_relaxed)) return true;
  }
  return false;
}

void LegacyKeyIds::Replace(std::vector<KeyId> sorted_ids) {
  snapshot_.store(std::make_shared<const Ids>(std::move(sorted_ids)), std::memory_order_release);
}

}  // namespace keycache
