// UsageFlusher: moves usage counted in memory (UsageCounter) to the store in batches, every
// interval and once more at shutdown, so no verification ever waits for a usage write and a
// graceful restart loses nothing. A failed batch is merged back and retried next time.
// FlushOnce() is thread-safe; Run() is one coroutine per flusher.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>

#include "cache/usage_counter.h"
#include "l2/shared_cache.h"
#include "service/db_executor.h"
#include "service/service_metrics.h"
#include "store/key_store.h"
#include "util/log.h"

namespace keycache {

class UsageFlusher {
 public:
  // With `shared`, each batch is also added to the shared per-minute counters in Redis, once, after
  // the store committed it: a retried batch is never counted twice.
  UsageFlusher(UsageCounter& usage, KeyStore& store, ServiceMetrics& metrics, Logger& log,
               SharedCache* shared = nullptr)
      : usage_(usage), store_(store), metrics_(metrics), log_(log), shared_(shared) {}

  // Blocking: drains the counter and writes one batch. Returns the number of keys written.
  Result<std::size_t> FlushOnce();

  // Loops until `stop` is set, flushing on the database pool's background lane every `interval`.
  boost::asio::awaitable<void> Run(std::chrono::milliseconds interval, DbExecutor& db,
                                   const std::atomic<bool>& stop);

 private:
  UsageCounter& usage_;
  KeyStore& store_;
  ServiceMetrics& metrics_;
  Logger& log_;
  SharedCache* const shared_;
};

}  // namespace keycache
