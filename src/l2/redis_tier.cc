#include "l2/redis_tier.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>

#include "l2/instance_id.h"
#include "l2/invalidation_message.h"
#include "l2/propagation_lag.h"
#include "util/clock.h"

namespace keycache {
namespace {

using namespace std::chrono_literals;

std::vector<boost::asio::any_io_executor> WithTierExecutor(
    std::vector<boost::asio::any_io_executor> executors, boost::asio::any_io_executor tier) {
  executors.push_back(std::move(tier));
  return executors;
}

double SecondsSince(std::chrono::steady_clock::time_point t) {
  if (t == std::chrono::steady_clock::time_point{}) return -1;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
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
  o.tls.ca = s.tls_ca;
  o.tls.cert = s.tls_cert;
  o.tls.key = s.tls_key;
  o.tls.server_name = s.tls_server_name;
  o.pool_size = s.pool_size;
  o.connect_timeout = std::chrono::milliseconds(s.connect_timeout_ms);
  o.command_timeout = std::chrono::milliseconds(s.command_timeout_ms);
  o.max_retries = s.max_retries;
  return o;
}

std::shared_ptr<SentinelLocator> SentinelLocatorFrom(const RedisSettings& s,
                                                     boost::asio::any_io_executor executor,
                                                     Logger& log) {
  if (!s.sentinel()) return nullptr;
  SentinelOptions o;
  for (const auto& sentinel : s.sentinels) o.sentinels.emplace_back(sentinel.host, sentinel.port);
  o.master_name = s.sentinel_master;
  o.connection = RedisOptionsFrom(s);
  o.connection.username = s.sentinel_username;
  o.connection.password = s.sentinel_password;
  o.connection.client_name = "keycached-sentinel-watch";
  return std::make_shared<SentinelLocator>(std::move(executor), std::move(o), log);
}

RedisOptions RedisTier::ConnectionOptions() const {
  RedisOptions o = RedisOptionsFrom(settings_);
  o.endpoint_source = locator_;
  return o;
}

RedisClusterOptions RedisClusterOptionsFrom(const RedisSettings& s) {
  RedisClusterOptions o;
  for (const auto& n : s.cluster_nodes) o.seeds.push_back(RedisEndpoint{n.host, n.port});
  if (!s.host.empty()) o.seeds.push_back(RedisEndpoint{s.host, s.port});
  o.node = RedisOptionsFrom(s);
  o.node.db = 0;
  return o;
}

namespace {
L2Options WithFence(L2Options l2, const RedisSettings& s) {
  if (s.cluster) l2.fence_replicas = s.fence_replicas;
  l2.fence_replica_timeout_ms = s.fence_timeout_ms;
  return l2;
}
}  // namespace

RedisCommands& RedisTier::MakeClient(std::vector<boost::asio::any_io_executor> executors) {
  if (!settings_.cluster) {
    // At least one connection per thread (the HTTP threads and the tier's): a thread without one
    // would queue its calls on another thread's executor, where they could outlive the tier at
    // shutdown.
    RedisOptions o = ConnectionOptions();
    o.pool_size = std::max(o.pool_size, static_cast<int>(executors.size()));
    single_ = std::make_unique<RedisClient>(std::move(executors), std::move(o), log_);
    return *single_;
  }
  RedisClusterOptions o = RedisClusterOptionsFrom(settings_);
  // A failover may have lost messages on the channel (a primary that published them died before
  // forwarding them over the cluster bus): as when the channel drops, the lease is revoked and
  // L1 is flushed before it is renewed. Posted to the tier's executor, where the heartbeat
  // lives: it runs before any later heartbeat can be heard there.
  o.on_primaries_changed = [this](const std::string&) {
    boost::asio::post(io_, [this] { heartbeat_.OnChannelLost(); });
  };
  cluster_ = std::make_unique<RedisClusterClient>(std::move(executors), std::move(o), log_);
  return *cluster_;
}

void RedisTier::StartClient() {
  if (single_) single_->Start();
  if (cluster_) cluster_->Start();
}

void RedisTier::StopClient() {
  if (single_) single_->Stop();
  if (cluster_) cluster_->Stop();
}

RedisTier::RedisTier(RedisTierOptions options,
                     std::vector<boost::asio::any_io_executor> io_executors, L1Cache& l1,
                     Registry& registry, Logger& log)
    : settings_(options.settings),
      count_interval_(options.count_interval),
      log_(log),
      l1_(l1),
      work_(io_.get_executor()),
      breaker_(settings_.breaker_failures),
      lease_(std::chrono::milliseconds(settings_.lease_ms)),
      metrics_(registry),
      sealer_(options.pepper),
      locator_(SentinelLocatorFrom(settings_, io_.get_executor(), log)),
      client_(MakeClient(WithTierExecutor(std::move(io_executors), io_.get_executor()))),
      l2_(client_, breaker_, lease_, L2Keys(settings_.key_prefix), sealer_,
          WithFence(options.l2, settings_), metrics_, io_.get_executor()),
      invalidator_(l2_, breaker_, MakeInstanceId(settings_.instance_id), io_.get_executor(), log),
      heartbeat_(
          HeartbeatOptions{.instance_id = invalidator_.instance_id(),
                           .interval = std::chrono::milliseconds(settings_.breaker_probe_ms)},
          io_.get_executor(), l2_, breaker_, lease_, invalidator_, l1, metrics_, log),
      lag_(registry
               .AddHistogram("keycache_invalidation_propagation_seconds",
                             "Delay from a change's publication by one instance (its wall clock) "
                             "to its application by another.",
                             {}, PropagationLagBuckets())
               .With({})),
      listener_(l1, heartbeat_, invalidator_.instance_id(), lag_, log),
      subscriber_(
          io_.get_executor(), ConnectionOptions(), L2Keys(settings_.key_prefix).Channel(),
          RedisSubscriber::Handlers{
              .on_message = [this](std::string_view payload) { listener_.OnMessage(payload); },
              .on_subscribed = [this] { listener_.OnSubscribed(); },
              .on_disconnected = [this] { listener_.OnDisconnected(); },
              .on_anomaly = [this](std::string_view what) { listener_.OnAnomaly(what); },
              // On a cluster: any node hears every PUBLISH; go round them as they fail.
              .nodes = SubscriberNodes()},
          log),
      count_timer_(io_) {
  breaker_.Open("not connected yet");
  // The backstop: no L1 entry outlives this, whatever happens to the lease.
  l1_.SetMaxEntryAge(settings_.l1_max_age_ms);
  registry.AddCallbackGauge("keycache_redis_connected", "1 when a pooled Redis connection is up.")
      .Add({}, [this] { return client_.connected() ? 1.0 : 0.0; });
  registry
      .AddCallbackGauge("keycache_redis_breaker_open",
                        "1 while the Redis circuit breaker is open (verifications BYPASS Redis).")
      .Add({}, [this] { return breaker_.open() ? 1.0 : 0.0; });
  registry
      .AddCallbackGauge("keycache_coherence_lease_held",
                        "1 while this instance holds its coherence lease (L1 and Redis answers "
                        "are trusted); 0 while the database answers every verification.")
      .Add({}, [this] { return lease_.Held() ? 1.0 : 0.0; });
  registry
      .AddCallbackGauge("keycache_invalidation_channel_up",
                        "1 while the invalidation subscription is confirmed.")
      .Add({}, [this] { return listener_.channel_up() ? 1.0 : 0.0; });
  registry
      .AddCallbackGauge("keycache_invalidation_channel_silence_seconds",
                        "Seconds since the invalidation channel's last sign of life.")
      .Add({}, [this] { return ChannelSilenceSeconds(); });
  registry
      .AddCallbackGauge("keycache_invalidation_channel_anomalies",
                        "Pushes on the invalidation channel that were not messages of ours "
                        "(each revoked the coherence lease).")
      .Add({}, [this] { return static_cast<double>(listener_.anomalies()); });
  registry
      .AddCallbackGauge("keycache_invalidations_pending",
                        "Invalidations kept for replay while Redis is unavailable.")
      .Add({}, [this] { return static_cast<double>(invalidator_.pending()); });
  if (locator_) {
    failovers_total_ = &registry
                            .AddCounter("keycache_redis_failovers_total",
                                        "Changes of Redis primary followed (Sentinel failovers).")
                            .With({});
    registry
        .AddCallbackGauge("keycache_redis_sentinels_subscribed",
                          "Sentinels whose +switch-master subscription is up.")
        .Add({}, [this] { return static_cast<double>(locator_->subscribed_sentinels()); });
  }
}

RedisTier::~RedisTier() { Stop(); }

Result<void> RedisTier::Start(std::chrono::milliseconds wait, std::string& error_message) {
  io_thread_ = std::thread([this] { io_.run(); });
  if (locator_) {
    locator_listener_ =
        locator_->AddListener([this] { boost::asio::post(io_, [this] { OnPrimaryChanged(); }); });
    locator_->Start();
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  // Sentinel mode: the first answer of a Sentinel, so that the connections have an address to
  // start with (without one their first attempts fail, which would end the wait below early).
  while (locator_ && !locator_->Current() && locator_->last_error().empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  StartClient();
  subscriber_.Start();
  boost::asio::co_spawn(io_, heartbeat_.Run(), boost::asio::detached);
  boost::asio::co_spawn(io_, CountLoop(), boost::asio::detached);
  // Until the lease is held, an attempt has failed (refused at once, or refused
  // authentication), or `wait` has passed.
  while (!lease_.Held() && client_.last_error().empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  if (client_.auth_failed()) {
    error_message = client_.last_error();
    return make_error_code(Errc::kUnavailable);
  }
  if (locator_ && locator_->auth_failed()) {
    error_message = "Redis Sentinel authentication failed: " + locator_->last_error();
    return make_error_code(Errc::kUnavailable);
  }
  if (!lease_.Held()) {
    log_.Warn("redis_unavailable_at_startup",
              {{"error", client_.last_error().empty() ? breaker_.reason() : client_.last_error()},
               {"effect", "serving from the database (BYPASS) until Redis answers"}});
  }
  return {};
}

void RedisTier::RequestWarm(std::function<void(bool)> sent) {
  InvalidationMessage m;
  m.source = instance_id();
  m.sent_at_us = WallMicros();
  m.warm = true;
  boost::asio::co_spawn(
      io_,
      [this, m = std::move(m), sent = std::move(sent)]() mutable -> boost::asio::awaitable<void> {
        const Result<void> published = co_await l2_.Fence(std::move(m), /*even_if_open=*/false);
        sent(published.has_value());
      },
      boost::asio::detached);
}

void RedisTier::Stop() {
  if (stopped_.exchange(true)) return;
  stopping_.store(true, std::memory_order_release);
  heartbeat_.Stop();
  boost::asio::post(io_, [this] { count_timer_.cancel(); });
  StopClient();  // releases any call still waiting for a Redis that does not answer
  subscriber_.Stop();
  if (locator_) {
    if (locator_listener_) locator_->RemoveListener(*locator_listener_);
    locator_->Stop();
  }
  work_.reset();
  io_.stop();
  if (io_thread_.joinable()) io_thread_.join();
  // No thread runs the pool's executors any more (the owner stopped the HTTP server first):
  // frames still queued there may keep connections alive past this tier and past io_.
  if (single_) single_->ReleaseIo();
  if (cluster_) cluster_->ReleaseIo();
  if (locator_) locator_->ReleaseIo();  // the pool's frames may hold it past io_
}

std::function<std::vector<RedisEndpoint>()> RedisTier::SubscriberNodes() {
  if (!cluster_) return {};
  return [this] { return cluster_->Nodes(); };
}

void RedisTier::OnPrimaryChanged() {
  const std::uint64_t failovers = locator_->failovers();
  if (failovers == failovers_handled_) return;  // the first primary found: nothing to distrust
  failovers_total_->Inc(failovers - failovers_handled_);
  failovers_handled_ = failovers;
  // The old primary may have taken changes (INCRs, UNLINKs, PUBLISHes) it never replicated.
  // As when the channel drops: no L1 or Redis answer until our own heartbeat comes back through
  // the new primary, and L1 is flushed then.
  heartbeat_.OnChannelLost();
  // Entries the new primary holds may have outlived their invalidation: every instance clears
  // them (a replayed "clear all", sent before the breaker closes) and, meanwhile, nothing is read
  // from or written to Redis. Fills read under the old primary are dropped by their epoch.
  invalidator_.DeferClearAll();
  if (breaker_.Open("the Redis primary changed (Sentinel failover); clearing the shared cache")) {
    metrics_.BreakerOpened();
  }
  const auto primary = locator_->Current();
  log_.Warn("redis_failover_followed",
            {{"primary", primary ? primary->ToString() : std::string()},
             {"effect",
              "coherence lease revoked, shared cache cleared before it is used again, fills "
              "begun under the old primary dropped"}});
}

boost::asio::awaitable<void> RedisTier::CountLoop() {
  while (!stopping_.load(std::memory_order_acquire)) {
    if (breaker_.allows()) {
      auto counted = co_await l2_.Count();
      if (counted) {
        std::lock_guard lock(mu_);
        counts_ = *counted;
      }
    }
    if (stopping_.load(std::memory_order_acquire)) break;
    // Soon after start (and while Redis is away), then every interval.
    count_timer_.expires_after(
        counts_ ? std::chrono::duration_cast<std::chrono::milliseconds>(count_interval_) : 500ms);
    co_await count_timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
}

double RedisTier::ChannelSilenceSeconds() const {
  return SecondsSince(subscriber_.last_sign_of_life());
}

TierStatus RedisTier::Status() const {
  TierStatus s;
  s.connected = client_.connected();
  s.pool_connected = client_.connected_count();
  s.pool_size = client_.pool_size();
  s.breaker_open = breaker_.open();
  s.breaker_reason = breaker_.reason();
  s.last_error = client_.last_error();
  s.lease_held = lease_.Held();
  s.lease_remaining_seconds = std::chrono::duration<double>(lease_.Remaining()).count();
  s.last_renewal_age_seconds = SecondsSince(heartbeat_.last_renewal());
  s.channel_up = listener_.channel_up();
  s.channel_silence_seconds = ChannelSilenceSeconds();
  s.invalidations_received = listener_.received();
  s.invalidations_pending = invalidator_.pending();
  s.channel_anomalies = listener_.anomalies();
  s.peers = listener_.peers();
  const Histogram::Snapshot lag = lag_.Collect();
  s.propagation_samples = lag.count;
  s.propagation_p50_seconds = BucketQuantile(lag_, lag, 0.5);
  s.propagation_p99_seconds = BucketQuantile(lag_, lag, 0.99);
  {
    std::lock_guard lock(mu_);
    s.entries = counts_;
  }
  if (locator_) {
    s.sentinel = true;
    const auto primary = locator_->Current();
    if (primary) s.primary = primary->ToString();
    s.failovers = locator_->failovers();
    s.sentinels_subscribed = locator_->subscribed_sentinels();
  }
  return s;
}

}  // namespace keycache
