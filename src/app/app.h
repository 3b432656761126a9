// App: the composition root as an object — every component of a keycached process, declared in
// dependency order so that construction wires them bottom-up and destruction tears them down
// top-down. `keycached serve` builds one from the configuration; tests and benchmarks build the
// same object (injecting a clock, a store or a fake shared tier through AppOptions) instead of
// copying the wiring.
// Lifecycle: Create, then Start (connects Redis or the PostgreSQL channel, listens), then Run on
// one thread until Stop (any thread) — Run then shuts down in order and returns the exit code.
// Accessors are for tests and benchmarks; each component is thread-safe on its own terms.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <thread>

#include "api/api_deps.h"
#include "cache/l1_cache.h"
#include "cache/l1_invalidator.h"
#include "cache/usage_counter.h"
#include "config/config.h"
#include "core/invalidation_sink.h"
#include "core/key_hasher.h"
#include "http/http_server.h"
#include "http/router.h"
#include "l2/notify_coherence.h"
#include "l2/redis_tier.h"
#include "l2/shared_cache.h"
#include "metrics/hit_rate_window.h"
#include "metrics/registry.h"
#include "service/cache_health.h"
#include "service/cache_warmer.h"
#include "service/db_executor.h"
#include "service/key_service.h"
#include "service/service_metrics.h"
#include "service/usage_flusher.h"
#include "service/verifier.h"
#include "store/key_store.h"
#include "store/pg_async_reader.h"
#include "store/pg_notify_channel.h"
#include "store/sqlite_instance_lock.h"
#include "util/clock.h"
#include "util/log.h"

namespace keycache {

struct AppOptions {
  Config config;  // validated, with secrets in place (EnsureSecrets)
  // Seams for tests and benchmarks; null means the real thing.
  const Clock* clock = nullptr;             // the system clock
  KeyStore* store = nullptr;                // the store DATABASE_URL names, opened by Create
  SharedCache* shared = nullptr;            // instead of the Redis tier: a fake shared cache...
  InvalidationSink* shared_sink = nullptr;  // ...and the sink that invalidates it
};

class App {
 public:
  // Builds every component and opens the store; nothing listens and no thread runs yet. On
  // failure `error` says what to fix.
  static std::unique_ptr<App> Create(AppOptions options, Logger& log, std::string& error);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Connects the Redis tier (a refused authentication is an error; an unreachable Redis is not)
  // and listens. Returns the process exit code to use on failure (non-zero), 0 on success.
  int Start(std::string& error);
  // Serves on the calling thread (and the other HTTP threads) until Stop(), then finishes
  // in-flight requests, flushes usage, stops the tier. Returns the exit code.
  int Run();
  // Any thread, idempotent: the graceful shutdown load balancers expect. /health/ready turns 503
  // at once while the server keeps serving for KEYCACHE_DRAIN with Connection: close on every
  // response (HttpServer::Drain); then Stop(). With KEYCACHE_DRAIN=0, Stop() at once.
  void Drain();
  // Any thread, idempotent: /health/ready turns 503 and the server stops accepting (ending a
  // drain early); in-flight requests get KEYCACHE_SHUTDOWN_GRACE, then Run() returns.
  void Stop();

  const Config& config() const { return config_; }
  std::uint16_t port() const { return server_->port(); }
  // The admin listener's port; 0 without ADMIN_PORT.
  std::uint16_t admin_port() const { return admin_server_ ? admin_server_->port() : 0; }
  HttpServer& server() { return *server_; }
  Verifier& verifier() { return verifier_; }
  KeyService& keys() { return keys_; }
  L1Cache& l1() { return l1_; }
  UsageCounter& usage() { return usage_; }
  UsageFlusher& flusher() { return flusher_; }
  DbExecutor& db() { return db_; }
  KeyStore& store() { return store_; }
  Registry& registry() { return registry_; }
  ServiceMetrics& metrics() { return metrics_; }
  const CacheHealth& health() const { return health_; }
  const KeyHasher& hasher() const { return hasher_; }
  RedisTier* redis() { return tier_.get(); }
  NotifyCoherence* pg_coherence() { return pg_coherence_.get(); }

 private:
  App(AppOptions options, std::unique_ptr<SqliteInstanceLock> instance_lock,
      std::unique_ptr<KeyStore> owned_store, Logger& log);
  bool cache_active() const { return config_.cache_enabled && !config_.emergency_mode; }
  std::unique_ptr<PgNotifyChannel> MakePgChannel();
  std::unique_ptr<PgAsyncReader> MakePgReader();
  void WireWarmUps();
  void StartBackground();
  void StopBackground();

  // Immutable after construction.
  const Config config_;
  Logger& log_;
  const SystemClock system_clock_;
  const Clock& clock_;
  const KeyHasher hasher_;

  // Components, in dependency order. The instance lock outlives the store it guards.
  const std::unique_ptr<SqliteInstanceLock> instance_lock_;
  const std::unique_ptr<KeyStore> owned_store_;
  KeyStore& store_;
  Registry registry_;
  HitRateWindow window_;
  ServiceMetrics metrics_;
  L1Cache l1_;
  UsageCounter usage_;
  DbExecutor db_;
  L1Invalidator l1_invalidator_;
  FanOutInvalidator invalidation_;
  Router router_;
  // ~App moves the stopped tier here, so that it is freed after the servers: their io_contexts,
  // destroyed with them, may still hold Redis submits posted to them, whose destructors reach
  // into the tier (found by ASan: a heap-use-after-free at shutdown on Redis Cluster).
  std::unique_ptr<RedisTier> stopped_tier_;
  // The server is built before the tier (which spreads its connections over the server's
  // threads).
  const std::unique_ptr<HttpServer> server_;
  // ADMIN_PORT only: the admin API's own listener (one thread), with every route.
  Router admin_router_;
  const std::unique_ptr<HttpServer> admin_server_;
  std::unique_ptr<RedisTier> tier_;
  // Without Redis on PostgreSQL: L1 coherence over LISTEN/NOTIFY. The channel (whose thread calls
  // the coherence) is declared after it, so it is destroyed first.
  std::unique_ptr<NotifyCoherence> pg_coherence_;
  std::unique_ptr<PgNotifyChannel> pg_channel_;
  SharedCache* const shared_;
  // On PostgreSQL: the HTTP threads' own pipelined lookup connections (KEYCACHE_DB_PIPELINE).
  // After the servers, so destroyed before their io_contexts.
  const std::unique_ptr<PgAsyncReader> pg_reader_;
  Verifier verifier_;
  KeyService keys_;
  UsageFlusher flusher_;
  CacheWarmer warmer_;
  CacheHealth health_;
  std::atomic<bool> shutting_down_{false};  // readiness: a drain or a stop has begun
  std::atomic<bool> stopping_{false};       // Stop() has run
  ApiDeps deps_;

  // Background work (usage flushing, warming, health logging) on its own thread, so it never
  // competes with request handling on the server threads' event loops.
  boost::asio::io_context background_{1};
  std::atomic<bool> stop_background_{false};
  std::thread background_thread_;
  // Ends the drain (Drain) on the background thread; an I/O object of background_.
  boost::asio::steady_timer drain_timer_{background_};
  bool started_ = false;
  bool ran_ = false;
};

}  // namespace keycache
