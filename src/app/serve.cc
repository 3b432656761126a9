#include "app/serve.h"

#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "api/api_deps.h"
#include "api/http_observer.h"
#include "api/routes.h"
#include "app/redis_tier.h"
#include "config/config.h"
#include "config/secrets.h"
#include "core/key_hasher.h"
#include "http/http_server.h"
#include "store/sqlite_store.h"

extern char** environ;

namespace keycache {
namespace {

using namespace std::chrono_literals;

std::optional<Config> LoadValidatedConfig() {
  EnvMap dotenv;
  std::error_code exists_ec;
  if (!std::filesystem::exists(".env", exists_ec)) {
    // No .env file: the environment alone configures the service.
  } else if (auto read = ReadDotEnv(".env"); read) {
    dotenv = std::move(*read);
  } else {
    std::fprintf(stderr, "keycached: %s: %s\n", read.error().variable.c_str(),
                 read.error().message.c_str());
    return std::nullopt;
  }
  ConfigLoad load = LoadConfig(MergeEnvironment(dotenv, environ));
  if (!load.config) {
    std::fprintf(stderr, "keycached: invalid configuration:\n");
    for (const auto& e : load.errors) {
      std::fprintf(stderr, "  %s: %s\n", e.variable.c_str(), e.message.c_str());
    }
    return std::nullopt;
  }
  return std::move(load.config);
}

L1Options L1OptionsFrom(const Config& c) {
  L1Options o;
  o.max_bytes = c.cache_max_memory_bytes;
  o.validation_ttl_ms = c.ttl_validation_s * 1000;
  o.scope_ttl_ms = c.ttl_scope_s * 1000;
  o.user_list_ttl_ms = c.ttl_user_list_s * 1000;
  o.negative_ttl_ms = c.ttl_negative_s * 1000;
  return o;
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

int Serve() {
  std::optional<Config> loaded = LoadValidatedConfig();
  if (!loaded) return 2;
  Config config = std::move(*loaded);
  Logger log(config.log_level);

  if (!config.is_sqlite()) {
    log.Error("startup_failed",
              {{"reason", "only sqlite: DATABASE_URLs are supported by this build"}});
    std::fprintf(stderr, "keycached: DATABASE_URL: only sqlite:PATH is supported by this build\n");
    return 2;
  }
  if (auto secrets = EnsureSecrets(config, log); !secrets) {
    std::fprintf(stderr, "keycached: cannot set up the admin token and pepper: %s\n",
                 secrets.error().message().c_str());
    return 2;
  }

  SystemClock clock;
  const KeyHasher hasher(config.pepper);
  auto opened = SqliteStore::Open(config.sqlite_path(), log);
  if (!opened) {
    std::fprintf(stderr, "keycached: cannot open the database %s: %s\n",
                 config.sqlite_path().c_str(), opened.error().message().c_str());
    return 1;
  }
  KeyStore& store = **opened;

  const bool cache_active = config.cache_enabled && !config.emergency_mode;
  Registry registry;
  HitRateWindow window(clock);
  ServiceMetrics metrics(registry, window);
  L1Cache l1(L1OptionsFrom(config), clock);
  UsageCounter usage;
  ServiceMetrics::RegisterCacheGauges(registry, l1, usage);
  DbExecutor db(config.db_threads, std::chrono::milliseconds(config.db_timeout_ms));

  L1Invalidator l1_invalidator(l1);
  FanOutInvalidator invalidation;
  invalidation.Add(l1_invalidator);

  // The server is built first (it serves nothing before Start) because the Redis tier spreads
  // its connections over the server's threads.
  Router router;
  HttpServerOptions http_options;
  http_options.host = config.host;
  http_options.port = config.port;
  http_options.threads = config.http_threads;
  http_options.max_header_bytes = config.max_header_bytes;
  http_options.max_body_bytes = config.max_body_bytes;
  http_options.read_timeout = std::chrono::milliseconds(config.http_read_timeout_ms);
  auto server = std::make_unique<HttpServer>(
      http_options, router, log, MakeRequestObserver(router, registry, log, config.access_log));

  std::unique_ptr<RedisTier> redis;
  if (config.redis.enabled && cache_active) {
    std::vector<boost::asio::any_io_executor> executors;
    for (int i = 0; i < server->threads(); ++i) executors.push_back(server->executor(i));
    redis = std::make_unique<RedisTier>(config, std::move(executors), l1, registry, log);
    std::string error;
    const auto wait = std::min(std::chrono::milliseconds(config.redis.connect_timeout_ms),
                               std::chrono::milliseconds(3000));
    if (auto started = redis->Start(wait, error); !started) {
      log.Error("startup_failed", {{"reason", error}});
      std::fprintf(stderr,
                   "keycached: %s (check REDIS_USERNAME / REDIS_PASSWORD against the Redis "
                   "server's requirepass or ACL users)\n",
                   error.c_str());
      return 2;  // `redis` goes first, then `server`, whose io_contexts its connections use
    }
    invalidation.Add(redis->invalidator());
  } else if (config.redis.enabled) {
    log.Info("redis_bypassed",
             {{"reason",
               config.emergency_mode ? "EMERGENCY_MODE is on" : "API_KEY_CACHE_ENABLED is false"}});
  }
  L2Cache* l2 = redis ? &redis->l2() : nullptr;

  Verifier verifier({config.key_prefix, cache_active, !l2 || config.redis.l1_enabled}, hasher, l1,
                    store, db, usage, metrics, clock, l2);
  KeyService keys({config.key_prefix, config.max_keys_per_owner, cache_active}, hasher, store, db,
                  l1, usage, invalidation, metrics, clock, l2);
  UsageFlusher flusher(usage, store, metrics, log, l2);
  CacheWarmer warmer(l1, store, metrics, clock, log);
  CacheHealth health({config.cache_enabled, config.emergency_mode, 0.8, config.health_min_lookups},
                     l1, usage, window, redis.get());
  std::atomic<bool> shutting_down{false};

  ApiDeps deps{config, clock,   log,    verifier, keys,         store,   db,       l1,
               usage,  flusher, warmer, health,   invalidation, metrics, registry, shutting_down};
  deps.redis = redis.get();
  if (auto routes = RegisterRoutes(router, deps); !routes) {
    log.Error("startup_failed", {{"reason", "route table: " + routes.error().message()}});
    return 1;
  }

  if (auto started = server->Start(); !started) {
    std::fprintf(stderr, "keycached: cannot listen on %s:%u: %s\n", config.host.c_str(),
                 static_cast<unsigned>(config.port), started.error().message().c_str());
    return 1;
  }

  // Background work (usage flushing, warming, health logging) runs on its own thread so that it
  // never competes with request handling on the server threads' event loops.
  boost::asio::io_context background(1);
  std::atomic<bool> stop_background{false};
  boost::asio::co_spawn(
      background,
      flusher.Run(std::chrono::milliseconds(config.usage_flush_interval_ms), db, stop_background),
      boost::asio::detached);
  boost::asio::co_spawn(
      background,
      HealthLogLoop(health, log, std::chrono::seconds(config.health_check_interval_s),
                    stop_background),
      boost::asio::detached);
  if (cache_active && config.warm_on_start) {
    db.Post([&warmer, &log] {
      if (auto warmed = warmer.Warm(); !warmed) {
        log.Warn("cache_warm_failed", {{"error", warmed.error().message()}});
      }
    });
  }
  std::thread background_thread([&background] { background.run(); });

  boost::asio::signal_set signals(background, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    log.Info("shutdown_requested", {{"signal", std::to_string(signo)}});
    shutting_down.store(true, std::memory_order_release);
    server->Stop(std::chrono::milliseconds(config.shutdown_grace_ms));
  });

  log.Info("listening",
           {{"address", config.host},
            {"port", std::to_string(server->port())},
            {"threads", std::to_string(config.http_threads)},
            // A PostgreSQL URL can hold a password: log the SQLite path only.
            {"database", config.is_sqlite() ? config.database_url : "postgresql"},
            {"cache", cache_active ? "enabled" : "bypassed"},
            {"redis", redis ? config.redis.host + ":" + std::to_string(config.redis.port)
                            : std::string("off")}});
  server->Run();

  // Requests are finished: everything counted is in `usage`. Write it out, then stop.
  stop_background.store(true, std::memory_order_release);
  boost::asio::post(background, [&] {
    signals.cancel();
    background.stop();
  });
  background_thread.join();
  db.Stop();
  auto flushed = flusher.FlushOnce();
  // The pool's connections use the server's io_contexts: the tier goes first (coroutine frames
  // still queued there keep their connection alive), then the server, whose io_contexts destroy
  // those frames and with them the last connections.
  redis.reset();
  server.reset();
  log.Info("stopped", {{"usage_keys_flushed", flushed ? std::to_string(*flushed) : "error"}});
  return flushed ? 0 : 1;
}

}  // namespace keycache
