#include "app/redis_tier.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <cstdio>

namespace keycache {
namespace {

using namespace std::chrono_literals;

// Propagation lag buckets: loopback deliveries take well under a millisecond, cross-zone ones a
// few; the 50 ms target sits on a bound.
const std::vector<double> kLagBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05,   0.1,     0.25,   0.5,   1,      2.5,   5};

std::string MakeInstanceId(const RedisSettings& s) {
  if (!s.instance_id.empty()) return s.instance_id;
  char host[64] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "keycached");
  unsigned char rnd[4] = {};
  RAND_bytes(rnd, sizeof rnd);
  char id[128];
  std::snprintf(id, sizeof id, "%s-%d-%02x%02x%02x%02x", host, static_cast<int>(getpid()), rnd[0],
                rnd[1], rnd[2], rnd[3]);
  return id;
}

std::vector<boost::asio::any_io_executor> WithTierExecutor(
    std::vector<boost::asio::any_io_executor> executors, boost::asio::any_io_executor tier) {
  executors.push_back(std::move(tier));
  return executors;
}

// The upper bound of the bucket holding quantile q; 0 with no samples.
double Quantile(const Histogram& h, const Histogram::Snapshot& snap, double q) {
  if (snap.count == 0) return 0;
  const double target = q * static_cast<double>(snap.count);
  for (std::size_t i = 0; i < h.bounds().size(); ++i) {
    if (static_cast<double>(snap.cumulative[i]) >= target) return h.bounds()[i];
  }
  return h.bounds().back();
}

}  // namespace

RedisOptions RedisOptionsFrom(const RedisSettings& s) {
  RedisOptions o;
  o.host = s.host;
  o.port = s.port;
  o.username = s.username;
  o.password = s.password;
  o.db = s.db;
  o.tls.enabled = s.tls;
  o.tls.ca_file = s.tls_ca;
  o.tls.cert_file = s.tls_cert;
  o.tls.key_file = s.tls_key;
  o.tls.server_name = s.tls_server_name;
  o.pool_size = s.pool_size;
  o.connect_timeout = std::chrono::milliseconds(s.connect_timeout_ms);
  o.command_timeout = std::chrono::milliseconds(s.command_timeout_ms);
  o.max_retries = s.max_retries;
  return o;
}

RedisTier::RedisTier(const Config& config, std::vector<boost::asio::any_io_executor> io_executors,
                     L1Cache& l1, Registry& registry, Logger& log)
    : settings_(config.redis),
      count_interval_(config.health_check_interval_s),
      log_(log),
      work_(io_.get_executor()),
      breaker_(config.redis.breaker_failures),
      metrics_(registry),
      sealer_(config.pepper),
      client_(WithTierExecutor(std::move(io_executors), io_.get_executor()),
              RedisOptionsFrom(config.redis), log),
      l2_(client_, breaker_, L2Keys(config.redis.key_prefix), sealer_,
          L2Options{config.ttl_validation_s * 1000, config.ttl_negative_s * 1000,
                    config.ttl_user_list_s * 1000, config.ttl_usage_s * 1000},
          metrics_, io_.get_executor()),
      invalidator_(l2_, MakeInstanceId(config.redis), log),
      lag_(registry
               .AddHistogram("keycache_invalidation_propagation_seconds",
                             "Delay from a change's publication by one instance (its wall clock) "
                             "to its application by another.",
                             {}, kLagBuckets)
               .With({})),
      listener_(l1, invalidator_.instance_id(), config.redis.l1_max_age_ms,
                config.redis.l1_degraded_max_age_ms, lag_, log),
      subscriber_(io_.get_executor(), RedisOptionsFrom(config.redis),
                  L2Keys(config.redis.key_prefix).Channel(),
                  RedisSubscriber::Handlers{
                      [this](std::string_view payload) { listener_.OnMessage(payload); },
                      [this] { listener_.OnSubscribed(); }, [this] { listener_.OnDisconnected(); }},
                  log) {
  breaker_.Open("not connected yet");
  registry.AddCallbackGauge("keycache_redis_connected", "1 when a pooled Redis connection is up.")
      .Add({}, [this] { return client_.connected() ? 1.0 : 0.0; });
  registry
      .AddCallbackGauge("keycache_redis_breaker_open",
                        "1 while the Redis circuit breaker is open (verifications BYPASS Redis).")
      .Add({}, [this] { return breaker_.open() ? 1.0 : 0.0; });
  registry
      .AddCallbackGauge("keycache_invalidation_channel_up",
                        "1 while the invalidation subscription is confirmed.")
      .Add({}, [this] { return listener_.channel_up() ? 1.0 : 0.0; });
  registry
      .AddCallbackGauge("keycache_invalidation_channel_silence_seconds",
                        "Seconds since the invalidation channel's last sign of life.")
      .Add({}, [this] { return ChannelSilenceSeconds(); });
  registry
      .AddCallbackGauge("keycache_invalidations_pending",
                        "Invalidations kept for replay while Redis is unavailable.")
      .Add({}, [this] { return static_cast<double>(invalidator_.pending()); });
}

RedisTier::~RedisTier() { Stop(); }

Result<void> RedisTier::Start(std::chrono::milliseconds wait, std::string& error_message) {
  io_thread_ = std::thread([this] { io_.run(); });
  client_.Start();
  subscriber_.Start();
  const auto deadline = std::chrono::steady_clock::now() + wait;
  // Until the first connection is up or an attempt has failed (refused at once, or refused
  // authentication), at most `wait`.
  while (!client_.connected() && client_.last_error().empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  if (client_.auth_failed()) {
    error_message = client_.last_error();
    return make_error_code(Errc::kUnavailable);
  }
  if (client_.connected()) {
    ProbeOnce();  // closes the breaker now rather than one probe interval later
  } else {
    log_.Warn("redis_unavailable_at_startup",
              {{"error", client_.last_error()},
               {"effect", "serving from L1 and the database (BYPASS) until Redis answers"}});
  }
  prober_ = std::thread([this] { ProbeLoop(); });
  return {};
}

void RedisTier::Stop() {
  if (stopped_.exchange(true)) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  // The client first: it releases a prober blocked on a call to a Redis that does not answer.
  client_.Stop();
  if (prober_.joinable()) prober_.join();
  subscriber_.Stop();
  work_.reset();
  io_.stop();
  if (io_thread_.joinable()) io_thread_.join();
  // No thread runs the pool's executors any more (the owner stopped the HTTP server first):
  // frames still queued there may keep connections alive past this tier and past io_.
  client_.ReleaseIo();
}

void RedisTier::ProbeLoop() {
  const auto interval = std::chrono::milliseconds(settings_.breaker_probe_ms);
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, interval, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    ProbeOnce();
    lock.lock();
  }
}

void RedisTier::ProbeOnce() {
  if (breaker_.open()) {
    if (!l2_.ProbeSync()) return;
    // Whatever changed while Redis was away goes out before anyone reads Redis again.
    if (!invalidator_.ReplayPending()) return;
    if (breaker_.Close()) {
      log_.Info("redis_available", {{"effect", "breaker closed; L2 and invalidations resumed"}});
    }
    return;
  }
  if (!client_.connected()) {
    if (breaker_.Open("no connection to Redis: " + client_.last_error())) {
      metrics_.BreakerOpened();
      log_.Warn("redis_unavailable",
                {{"error", client_.last_error()},
                 {"effect", "breaker open; serving from L1 and the database"}});
    }
    return;
  }
  if (invalidator_.pending() > 0) invalidator_.ReplayPending();
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (counts_ && now - counted_at_ < count_interval_) return;
  }
  auto counted = l2_.CountSync();
  std::lock_guard lock(mu_);
  counted_at_ = now;
  if (counted) counts_ = *counted;
}

double RedisTier::ChannelSilenceSeconds() const {
  const auto seen = subscriber_.last_sign_of_life();
  if (seen == std::chrono::steady_clock::time_point{}) return -1;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - seen).count();
}

RedisStatus RedisTier::Status() const {
  RedisStatus s;
  s.connected = client_.connected();
  s.pool_connected = client_.connected_count();
  s.pool_size = client_.pool_size();
  s.breaker_open = breaker_.open();
  s.breaker_reason = breaker_.reason();
  s.last_error = client_.last_error();
  s.channel_up = listener_.channel_up();
  s.channel_silence_seconds = ChannelSilenceSeconds();
  s.invalidations_received = listener_.received();
  s.invalidations_pending = invalidator_.pending();
  const Histogram::Snapshot lag = lag_.Collect();
  s.propagation_samples = lag.count;
  s.propagation_p50_seconds = Quantile(lag_, lag, 0.5);
  s.propagation_p99_seconds = Quantile(lag_, lag, 0.99);
  {
    std::lock_guard lock(mu_);
    s.entries = counts_;
  }
  return s;
}

}  // namespace keycache
