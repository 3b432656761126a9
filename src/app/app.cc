#include "app/app.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>

#include "api/http_observer.h"
#include "api/routes.h"
#include "l2/instance_id.h"
#include "store/pg_store.h"
#include "store/sqlite_store.h"

namespace keycache {
namespace {

using namespace std::chrono_literals;

L1Options L1OptionsFrom(const Config& c) {
  return L1Options{.max_bytes = c.cache_max_memory_bytes,
                   .validation_ttl_ms = c.ttl_validation_s * 1000,
                   .scope_ttl_ms = c.ttl_scope_s * 1000,
                   .user_list_ttl_ms = c.ttl_user_list_s * 1000,
                   .negative_ttl_ms = c.ttl_negative_s * 1000};
}

HttpServerOptions HttpOptionsFrom(const Config& c) {
  return HttpServerOptions{.host = c.host,
                           .port = c.port,
                           .threads = c.http_threads,
                           .max_header_bytes = c.max_header_bytes,
                           .max_body_bytes = c.max_body_bytes,
                           .read_timeout = std::chrono::milliseconds(c.http_read_timeout_ms)};
}

// The admin listener: one thread (administration is not the hot path), the same limits.
std::unique_ptr<HttpServer> MakeAdminServer(const Config& c, const Router& router, Logger& log) {
  if (!c.admin_port) return nullptr;
  HttpServerOptions o = HttpOptionsFrom(c);
  o.host = c.admin_host;
  o.port = *c.admin_port;
  o.threads = 1;
  return std::make_unique<HttpServer>(o, router, log);
}

std::unique_ptr<RedisTier> MakeTier(const Config& c, const AppOptions& o, HttpServer& server,
                                    HttpServer* admin, L1Cache& l1, Registry& registry,
                                    Logger& log) {
  if (o.shared || !c.redis.enabled || !c.cache_enabled || c.emergency_mode) return nullptr;
  // Every thread that runs handlers gets connections of its own, the admin listener's too.
  std::vector<boost::asio::any_io_executor> executors;
  for (int i = 0; i < server.threads(); ++i) executors.push_back(server.executor(i));
  for (int i = 0; admin && i < admin->threads(); ++i) executors.push_back(admin->executor(i));
  return std::make_unique<RedisTier>(
      RedisTierOptions{.settings = c.redis,
                       .pepper = c.pepper,
                       .l2 = L2Options{.validation_ttl_ms = c.ttl_validation_s * 1000,
                                       .negative_ttl_ms = c.ttl_negative_s * 1000,
                                       .user_list_ttl_ms = c.ttl_user_list_s * 1000,
                                       .usage_ttl_ms = c.ttl_usage_s * 1000},
                       .count_interval = std::chrono::seconds(c.health_check_interval_s)},
      std::move(executors), l1, registry, log);
}

// The PostgreSQL invalidation channel, when instances share PostgreSQL without Redis (whose own
// channel keeps L1 coherent otherwise). Null on SQLite (one instance per file,
// sqlite_instance_lock) and when the cache is off.
std::unique_ptr<NotifyCoherence> MakePgCoherence(const Config& c, const AppOptions& o,
                                                 const RedisTier* tier, L1Cache& l1,
                                                 Registry& registry, Logger& log,
                                                 NotifyCoherence::Publish publish) {
  if (c.is_sqlite() || o.store || o.shared || tier || !c.cache_enabled || c.emergency_mode) {
    return nullptr;
  }
  if (c.redis.enabled) return nullptr;  // the Redis tier is bypassed: the cache is off
  if (!c.pg_notify) {
    log.Warn("pg_notify_off",
             {{"effect",
               "KEYCACHE_PG_NOTIFY=false: this instance hears no other instance's changes; its "
               "L1 may serve a revoked key until the entry's TTL"}});
    return nullptr;
  }
  const auto lease = std::chrono::milliseconds(c.redis.lease_ms);
  return std::make_unique<NotifyCoherence>(
      NotifyCoherenceOptions{.instance_id = MakeInstanceId(c.redis.instance_id),
                             .lease = lease,
                             .heartbeat = std::max(lease / 4, std::chrono::milliseconds(10)),
                             .l1_max_age_ms = c.redis.l1_max_age_ms},
      std::move(publish), l1, registry, log);
}

// Periodic cache health log line, every CACHE_HEALTH_CHECK_INTERVAL.
boost::asio::awaitable<void> HealthLogLoop(CacheHealth& health, Logger& log,
                                           std::chrono::seconds interval,
                                           const std::atomic<bool>& stop) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  std::string last_status = "healthy";
  while (!stop.load(std::memory_order_acquire)) {
    timer.expires_after(interval);
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (stop.load(std::memory_order_acquire)) break;
    const CacheHealthReport h = health.Check();
    const LogLevel level = h.status == "healthy" ? LogLevel::kDebug : LogLevel::kWarn;
    if (h.status != last_status || level == LogLevel::kWarn) {
      log.Log(level, "cache_health",
              {{"status", h.status},
               {"hit_rate", std::to_string(h.hit_rate)},
               {"entries", std::to_string(h.total_entries())},
               {"reason", h.reason.empty() ? h.error : h.reason}});
    }
    last_status = h.status;
  }
}

}  // namespace

std::unique_ptr<App> App::Create(AppOptions options, Logger& log, std::string& error) {
  std::unique_ptr<SqliteInstanceLock> instance_lock;
  std::unique_ptr<KeyStore> owned;
  if (!options.store && !options.config.is_sqlite()) {
    // Config validation admits only sqlite: and postgres(ql):// URLs.
    const Config& c = options.config;
    auto opened = PgStore::Open(c.database_url, log,
                                // One connection per database thread of every lane (DbExecutor:
                                // reads, writes and the background lane's one thread), so a writer
                                // waiting on a row lock never holds a reader's connection.
                                {.connections = 2 * c.db_threads + 1,
                                 .timeout = std::chrono::milliseconds(c.db_timeout_ms)});
    if (!opened) {
      // Not the URL: it can hold a password.
      error = "cannot open the PostgreSQL database: " + opened.error().message();
      return nullptr;
    }
    owned = std::move(*opened);
  } else if (!options.store) {
    const Config& c = options.config;
    const std::string path = c.sqlite_path();
    if (path != ":memory:") {
      // An L1 that hears of no other instance's changes is coherent only if this instance is
      // the file's only server (see store/sqlite_instance_lock.h).
      const bool alone = c.cache_enabled && !c.emergency_mode && !c.redis.enabled;
      std::string detail;
      auto locked = SqliteInstanceLock::Acquire(
          path, alone ? SqliteInstanceLock::Mode::kExclusive : SqliteInstanceLock::Mode::kShared,
          detail);
      if (!locked && locked.error() == make_error_code(Errc::kConflict)) {
        error = "DATABASE_URL: another keycached process serves " + path +
                (alone ? ", and this one caches keys without REDIS_HOST"
                       : " and caches keys without REDIS_HOST") +
                ": one instance would keep accepting keys the other revoked. Instances sharing "
                "one SQLite file must all set REDIS_HOST (or API_KEY_CACHE_ENABLED=false); "
                "stop the other instance or configure both alike (" +
                detail + ")";
        return nullptr;
      }
      if (!locked) {
        error = "DATABASE_URL: " + detail;
        return nullptr;
      }
      instance_lock = std::move(*locked);
    }
    auto opened = SqliteStore::Open(path, log, {.readers = c.db_threads});
    if (!opened) {
      error = "cannot open the database " + path + ": " + opened.error().message();
      return nullptr;
    }
    owned = std::move(*opened);
  }
  std::unique_ptr<App> app(
      new App(std::move(options), std::move(instance_lock), std::move(owned), log));
  // With an admin listener, the main one serves only what may face the network.
  const bool admin = app->admin_server_ != nullptr;
  if (auto routes =
          RegisterRoutes(app->router_, app->deps_, admin ? RouteSet::kPublic : RouteSet::kAll);
      !routes) {
    error = "route table: " + routes.error().message();
    return nullptr;
  }
  if (admin) {
    if (auto routes = RegisterRoutes(app->admin_router_, app->deps_); !routes) {
      error = "admin route table: " + routes.error().message();
      return nullptr;
    }
  }
  // Route labels are resolved once, from the complete route tables.
  const HttpMetricFamilies families = AddHttpMetricFamilies(app->registry_);
  app->server_->SetObserver(
      MakeRequestObserver(app->router_, families, log, app->config_.access_log));
  if (admin) {
    app->admin_server_->SetObserver(
        MakeRequestObserver(app->admin_router_, families, log, app->config_.access_log));
  }
  return app;
}

App::App(AppOptions o, std::unique_ptr<SqliteInstanceLock> instance_lock,
         std::unique_ptr<KeyStore> owned_store, Logger& log)
    : config_(std::move(o.config)),
      log_(log),
      clock_(o.clock ? *o.clock : system_clock_),
      hasher_(config_.pepper),
      instance_lock_(std::move(instance_lock)),
      owned_store_(std::move(owned_store)),
      store_(o.store ? *o.store : *owned_store_),
      window_(clock_),
      metrics_(registry_, window_),
      l1_(L1OptionsFrom(config_), clock_),
      db_(config_.db_threads, std::chrono::milliseconds(config_.db_timeout_ms)),
      l1_invalidator_(l1_),
      server_(std::make_unique<HttpServer>(HttpOptionsFrom(config_), router_, log)),
      admin_server_(MakeAdminServer(config_, admin_router_, log)),
      tier_(MakeTier(config_, o, *server_, admin_server_.get(), l1_, registry_, log)),
      pg_coherence_(MakePgCoherence(config_, o, tier_.get(), l1_, registry_, log,
                                    [this](std::string payload, std::function<void(bool)> sent) {
                                      pg_channel_->Notify(std::move(payload), std::move(sent));
                                    })),
      pg_channel_(MakePgChannel()),
      shared_(!cache_active() ? nullptr
              : o.shared      ? o.shared
              : tier_         ? &tier_->shared()
                              : nullptr),
      pg_reader_(MakePgReader()),
      verifier_(VerifierOptions{.key_prefix = config_.key_prefix,
                                .cache_enabled = cache_active(),
                                .l1_enabled = !shared_ || config_.redis.l1_enabled,
                                .hot_entries_per_thread =
                                    static_cast<std::size_t>(config_.l1_hot_entries)},
                hasher_, l1_, store_, db_, usage_, metrics_, clock_, shared_,
                pg_coherence_ ? &pg_coherence_->lease() : nullptr, pg_reader_.get()),
      keys_(KeyServiceOptions{.key_prefix = config_.key_prefix,
                              .max_keys_per_owner = config_.max_keys_per_owner,
                              .cache_enabled = cache_active(),
                              .propagation_timeout = std::chrono::milliseconds(
                                  config_.redis.command_timeout_ms + 1000)},
            hasher_, store_, db_, l1_, usage_, invalidation_, metrics_, clock_, shared_,
            pg_coherence_ ? &pg_coherence_->lease() : nullptr),
      flusher_(usage_, store_, metrics_, log, shared_),
      warmer_(verifier_, keys_, store_, db_, metrics_, clock_, log),
      health_(CacheHealthOptions{.cache_enabled = config_.cache_enabled,
                                 .emergency_mode = config_.emergency_mode,
                                 .min_hit_rate = 0.8,
                                 .min_lookups = config_.health_min_lookups},
              l1_, usage_, window_, tier_.get(), pg_coherence_.get()),
      deps_{
          config_,  clock_,  log,     verifier_, keys_,     store_,         db_,        l1_, usage_,
          flusher_, warmer_, health_, metrics_,  registry_, shutting_down_, tier_.get()} {
  ServiceMetrics::RegisterCacheGauges(registry_, l1_, usage_);
  invalidation_.Add(l1_invalidator_);
  if (shared_ && o.shared_sink) invalidation_.Add(*o.shared_sink);
  if (tier_) invalidation_.Add(tier_->invalidator());
  // L1 again once the shared tiers reported: a request between the first L1 drop and Redis's
  // fence may have refilled L1 from the old Redis entry.
  if (shared_) invalidation_.AddFinal(l1_invalidator_);
  if (pg_coherence_) invalidation_.Add(*pg_coherence_);
  WireWarmUps();
  if (!config_.is_sqlite() && tier_ && config_.pg_notify) {
    log_.Info("pg_notify_off",
              {{"reason", "REDIS_HOST is set: Redis's channel keeps L1 coherent"}});
  }
  if (config_.redis.enabled && !tier_ && !o.shared) {
    log_.Info("redis_bypassed",
              {{"reason", config_.emergency_mode ? "EMERGENCY_MODE is on"
                                                 : "API_KEY_CACHE_ENABLED is false"}});
  }
}

// A warm-up asked for on one instance runs on every instance: the request travels on whichever
// invalidation channel there is, and each receiver warms on one of its HTTP threads.
void App::WireWarmUps() {
  if (!cache_active()) return;
  auto warm_here = [this] { warmer_.WarmInBackground(server_->executor(0), "peer"); };
  if (tier_) {
    warmer_.SetBroadcast(
        [this](std::function<void(bool)> sent) { tier_->RequestWarm(std::move(sent)); });
    tier_->SetWarmHandler(warm_here);
  } else if (pg_coherence_) {
    warmer_.SetBroadcast(
        [this](std::function<void(bool)> sent) { pg_coherence_->RequestWarm(std::move(sent)); });
    pg_coherence_->SetWarmHandler(warm_here);
  }
}

std::unique_ptr<PgAsyncReader> App::MakePgReader() {
  // Only for the store this App opened from DATABASE_URL (tests may hand in another).
  if (config_.is_sqlite() || !config_.db_pipeline || !owned_store_) return nullptr;
  std::vector<boost::asio::any_io_executor> executors;
  for (int i = 0; i < server_->threads(); ++i) executors.push_back(server_->executor(i));
  auto reader = std::make_unique<PgAsyncReader>(
      std::move(executors),
      PgAsyncReaderOptions{.url = config_.database_url,
                           .timeout = std::chrono::milliseconds(config_.db_timeout_ms)},
      [this](std::function<void()> job) { db_.Post(std::move(job)); }, log_);
  reader->Open();
  return reader;
}

std::unique_ptr<PgNotifyChannel> App::MakePgChannel() {
  if (!pg_coherence_) return nullptr;
  NotifyCoherence& c = *pg_coherence_;
  return std::make_unique<PgNotifyChannel>(
      config_.database_url,
      // PostgreSQL keeps 63 bytes of an application_name.
      PgNotifyOptions{.timeout = std::chrono::milliseconds(config_.db_timeout_ms),
                      .application_name = ("keycached-listen/" + c.instance_id()).substr(0, 63)},
      PgNotifyHandlers{.on_message = [&c](std::string_view payload) { c.OnMessage(payload); },
                       .on_listening = [&c] { c.OnListening(); },
                       .on_lost = [&c] { c.OnLost(); },
                       .on_tick = [&c] { c.OnTick(); }},
      log_);
}

App::~App() {
  Stop();
  StopBackground();
  db_.Stop();
  if (tier_) tier_->Stop();
  if (pg_channel_) pg_channel_->Stop();
  stopped_tier_ = std::move(tier_);  // freed after the servers (see app.h)
}

int App::Start(std::string& error) {
  if (tier_) {
    const auto wait = std::min(std::chrono::milliseconds(config_.redis.connect_timeout_ms),
                               std::chrono::milliseconds(3000));
    if (auto started = tier_->Start(wait, error); !started) {
      error += error.starts_with("Redis Sentinel")
                   ? " (check REDIS_SENTINEL_USERNAME / REDIS_SENTINEL_PASSWORD against the "
                     "Sentinels' requirepass or ACL users)"
                   : " (check REDIS_USERNAME / REDIS_PASSWORD against the Redis server's "
                     "requirepass or ACL users)";
      return 2;
    }
  }
  if (pg_channel_) {
    pg_channel_->Start();
    // Serving before the lease is held is correct (the database answers), only slower.
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while (!pg_coherence_->lease().Held() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    if (!pg_coherence_->lease().Held()) {
      log_.Warn("pg_notify_unavailable_at_startup",
                {{"effect", "serving from the database until the LISTEN connection is up"}});
    }
  }
  if (auto listening = server_->Start(); !listening) {
    error = "cannot listen on " + config_.host + ":" + std::to_string(config_.port) + ": " +
            listening.error().message();
    return 1;
  }
  if (admin_server_) {
    if (auto listening = admin_server_->Start(); !listening) {
      error = "cannot listen on ADMIN_HOST:ADMIN_PORT " + config_.admin_host + ":" +
              std::to_string(*config_.admin_port) + ": " + listening.error().message();
      return 1;
    }
  }
  StartBackground();
  started_ = true;
  log_.Info(
      "listening",
      {{"address", config_.host},
       {"port", std::to_string(server_->port())},
       {"admin", admin_server_ ? config_.admin_host + ":" + std::to_string(admin_server_->port())
                               : std::string("on the same port")},
       {"admin_port", admin_server_ ? std::to_string(admin_server_->port()) : std::string("-")},
       {"threads", std::to_string(config_.http_threads)},
       // A PostgreSQL URL can hold a password: log the SQLite path only.
       {"database", config_.is_sqlite() ? config_.database_url : "postgresql"},
       {"cache", cache_active() ? "enabled" : "bypassed"},
       {"redis",
        tier_ ? config_.redis.host + ":" + std::to_string(config_.redis.port) : std::string("off")},
       {"coherence", tier_           ? "redis"
                     : pg_coherence_ ? "postgres-notify"
                                     : "none"}});
  return 0;
}

void App::StartBackground() {
  // The usage flush yields the CPU to the I/O threads (bench/README.md, "The HTTP tail: any
  // server at wrk's CPU per request"); if the system refuses, it runs at their priority.
  if (config_.background_nice != 0) {
    if (auto niced = db_.SetBackgroundNice(config_.background_nice); !niced) {
      log_.Warn("background_priority_unchanged", {{"nice", std::to_string(config_.background_nice)},
                                                  {"error", niced.error().message()}});
    }
  }
  boost::asio::co_spawn(background_,
                        flusher_.Run(std::chrono::milliseconds(config_.usage_flush_interval_ms),
                                     db_, stop_background_),
                        boost::asio::detached);
  boost::asio::co_spawn(
      background_,
      HealthLogLoop(health_, log_, std::chrono::seconds(config_.health_check_interval_s),
                    stop_background_),
      boost::asio::detached);
  if (cache_active() && config_.warm_on_start) {
    warmer_.WarmInBackground(server_->executor(0), "startup");
  }
  background_thread_ = std::thread([this] { background_.run(); });
}

void App::StopBackground() {
  if (!background_thread_.joinable()) return;
  stop_background_.store(true, std::memory_order_release);
  boost::asio::post(background_, [this] { background_.stop(); });
  background_thread_.join();
}

void App::Drain() {
  if (config_.drain_ms == 0 || !background_thread_.joinable()) {
    Stop();
    return;
  }
  if (shutting_down_.exchange(true, std::memory_order_acq_rel)) return;
  server_->Drain();
  if (admin_server_) admin_server_->Drain();
  log_.Info("drain_started",
            {{"drain_ms", std::to_string(config_.drain_ms)},
             {"ready", "503 (draining)"},
             {"effect", "still serving; every response carries Connection: close"}});
  boost::asio::post(background_, [this] {
    drain_timer_.expires_after(std::chrono::milliseconds(config_.drain_ms));
    drain_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_.load(std::memory_order_acquire)) return;
      log_.Info("drain_ended");
      Stop();
    });
  });
}

void App::Stop() {
  shutting_down_.store(true, std::memory_order_release);
  if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
  log_.Info("listener_closing",
            {{"in_flight_grace_ms", std::to_string(config_.shutdown_grace_ms)}});
  server_->Stop(std::chrono::milliseconds(config_.shutdown_grace_ms));
  if (admin_server_) admin_server_->Stop(std::chrono::milliseconds(config_.shutdown_grace_ms));
}

int App::Run() {
  ran_ = true;
  std::thread admin_thread;
  if (admin_server_) admin_thread = std::thread([this] { admin_server_->Run(); });
  server_->Run();
  if (admin_thread.joinable()) admin_thread.join();
  log_.Info("requests_finished", {{"next", "flushing usage"}});
  // Requests are finished: everything counted is in `usage_`. Write it out, then stop.
  StopBackground();
  db_.Stop();
  auto flushed = flusher_.FlushOnce();
  // The pool's connections use the server's io_contexts: the tier stops while they still exist.
  if (tier_) tier_->Stop();
  if (pg_channel_) pg_channel_->Stop();
  log_.Info("stopped", {{"usage_keys_flushed", flushed ? std::to_string(*flushed) : "error"}});
  return flushed ? 0 : 1;
}

}  // namespace keycache
