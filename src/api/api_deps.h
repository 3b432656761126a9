// ApiDeps: everything the route handlers use, wired once by the composition root (app/) and
// outliving the HTTP server. Handlers only read these references; each referenced component is
// itself thread-safe.
#pragma once

#include <atomic>
#include <string>

#include "cache/l1_cache.h"
#include "cache/usage_counter.h"
#include "config/config.h"
#include "l2/tier_status.h"
#include "metrics/registry.h"
#include "service/cache_health.h"
#include "service/cache_warmer.h"
#include "service/db_executor.h"
#include "service/key_service.h"
#include "service/service_metrics.h"
#include "service/usage_flusher.h"
#include "service/verifier.h"
#include "store/key_store.h"
#include "util/clock.h"
#include "util/log.h"

namespace keycache {

struct ApiDeps {
  const Config& config;
  const Clock& clock;
  Logger& log;
  Verifier& verifier;
  KeyService& keys;
  KeyStore& store;
  DbExecutor& db;
  L1Cache& l1;
  UsageCounter& usage;
  UsageFlusher& flusher;
  CacheWarmer& warmer;
  CacheHealth& health;
  ServiceMetrics& metrics;
  const Registry& registry;
  const std::atomic<bool>& shutting_down;
  const TierStatusSource* redis = nullptr;  // null without the Redis tier
};

}  // namespace keycache
