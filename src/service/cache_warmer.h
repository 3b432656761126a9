// CacheWarmer: warms the caches at start-up and on POST /admin/cache/warm — on this instance and,
// through the invalidation channel, on every other one. Warming takes the `limit` most-used keys
// and loads each as a verification that missed L1 would (service/fenced_load.h): from Redis when
// it holds the entry, else from the store, sealed into Redis too — so both tiers hold it, and a
// key revoked meanwhile is never resurrected (the fill fence refuses such fills). It also caches
// the scope decisions each key's own scopes allow and the key lists of their owners.
// Thread-safety: Warm and AskOthers are awaited on an I/O thread (a single-threaded executor);
// WarmInBackground may be called from any thread; SetBroadcast only at wiring time.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "service/db_executor.h"
#include "service/key_service.h"
#include "service/service_metrics.h"
#include "service/verifier.h"
#include "store/key_store.h"
#include "util/clock.h"
#include "util/log.h"

namespace keycache {

struct WarmResult {
  std::size_t candidates = 0;       // the most-used key ids the store proposed
  std::size_t keys = 0;             // of those, the keys that exist, now cached
  std::size_t from_redis = 0;       // ... whose entry Redis held (L1 filled from it)
  std::size_t from_database = 0;    // ... read from the store (and sealed into Redis, with it)
  std::size_t scope_decisions = 0;  // decisions cached for the keys' own scopes
  std::size_t owner_lists = 0;      // the key lists of their owners, cached
};

class CacheWarmer {
 public:
  // Asks every other instance to warm; `sent(true)` once the request is on the channel.
  using Broadcast = std::function<void(std::function<void(bool)> sent)>;

  CacheWarmer(Verifier& verifier, KeyService& keys, KeyStore& store, DbExecutor& db,
              ServiceMetrics& metrics, const Clock& clock, Logger& log, std::size_t limit = 500)
      : verifier_(verifier),
        keys_(keys),
        store_(store),
        db_(db),
        metrics_(metrics),
        clock_(clock),
        log_(log),
        limit_(limit) {}

  // Without a channel (one instance, or SQLite) there is nobody to ask.
  void SetBroadcast(Broadcast broadcast) { broadcast_ = std::move(broadcast); }
  bool can_broadcast() const { return static_cast<bool>(broadcast_); }

  boost::asio::awaitable<Result<WarmResult>> Warm();
  // Runs Warm() on `executor` (one of the HTTP threads) and logs its outcome; `reason` says who
  // asked ("startup", "peer").
  void WarmInBackground(boost::asio::any_io_executor executor, std::string reason);
  // Asks the other instances to warm: nullopt without a channel, else whether the channel took
  // the request within `timeout`.
  boost::asio::awaitable<std::optional<bool>> AskOthers(std::chrono::milliseconds timeout);

 private:
  Verifier& verifier_;
  KeyService& keys_;
  KeyStore& store_;
  DbExecutor& db_;
  ServiceMetrics& metrics_;
  const Clock& clock_;
  Logger& log_;
  const std::size_t limit_;
  Broadcast broadcast_;
};

}  // namespace keycache
