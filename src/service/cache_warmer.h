// CacheWarmer: loads the most-used keys into the validation cache (at startup and on
// POST /admin/cache/warm): the top `limit` ids by usage, then re-read in chunks of `chunk` with a
// fill ticket taken before each read, so warming can never resurrect a key revoked meanwhile.
// Thread-safe; Warm() blocks and runs on the database pool.
#pragma once

#include <cstddef>

#include "cache/l1_cache.h"
#include "service/service_metrics.h"
#include "store/key_store.h"
#include "util/clock.h"
#include "util/log.h"

namespace keycache {

struct WarmResult {
  std::size_t candidates = 0;  // keys the store proposed
  std::size_t loaded = 0;      // entries that landed in the cache
};

class CacheWarmer {
 public:
  CacheWarmer(L1Cache& l1, KeyStore& store, ServiceMetrics& metrics, const Clock& clock,
              Logger& log, std::size_t limit = 500, std::size_t chunk = 50)
      : l1_(l1),
        store_(store),
        metrics_(metrics),
        clock_(clock),
        log_(log),
        limit_(limit),
        chunk_(chunk) {}

  Result<WarmResult> Warm();

 private:
  L1Cache& l1_;
  KeyStore& store_;
  ServiceMetrics& metrics_;
  const Clock& clock_;
  Logger& log_;
  const std::size_t limit_;
  const std::size_t chunk_;
};

}  // namespace keycache
