#include "redis/sentinel_locator.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <exception>

#include "redis/redis_query.h"
#include "redis/redis_stream.h"

namespace keycache {

namespace asio = boost::asio;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kSwitchChannel = "+switch-master";
// Twenty connections reporting a dead primary ask at most ten questions a second.
constexpr std::chrono::milliseconds kMinSpacing{100};

std::optional<std::uint16_t> ParsePort(std::string_view s) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    const auto start = s.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    s.remove_prefix(start);
    const auto end = std::min(s.find(' '), s.size());
    out.push_back(s.substr(0, end));
    s.remove_prefix(end);
  }
  return out;
}

}  // namespace

SentinelLocator::SentinelLocator(asio::any_io_executor executor, SentinelOptions options,
                                 Logger& log)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      log_(log),
      timer_(std::in_place, executor_) {
  if (options_.connection.tls.active()) {
    tls_ = redis_detail::MakeTlsContext(options_.connection.tls, tls_error_);
  }
}

SentinelLocator::~SentinelLocator() { Stop(); }

namespace {
RedisOptions SentinelConnection(const SentinelOptions& o, std::size_t index) {
  RedisOptions c = o.connection;
  c.host = o.sentinels[index].first;
  c.port = o.sentinels[index].second;
  c.db = 0;
  c.endpoint_source = nullptr;
  c.require_primary = false;
  return c;
}
}  // namespace

void SentinelLocator::Start() {
  if (started_.exchange(true) || stopping_.load()) return;
  std::weak_ptr<SentinelLocator> weak = weak_from_this();
  for (std::size_t i = 0; i < options_.sentinels.size(); ++i) {
    RedisSubscriber::Handlers handlers{
        .on_message =
            [weak](std::string_view payload) {
              if (auto self = weak.lock()) self->OnSwitchMaster(payload);
            },
        // A failover may have happened while this subscription was down.
        .on_subscribed =
            [weak] {
              if (auto self = weak.lock()) self->Wake();
            },
        .on_disconnected = {},
        .on_anomaly = {}};
    subscriptions_.push_back(
        std::make_unique<RedisSubscriber>(executor_, SentinelConnection(options_, i),
                                          std::string(kSwitchChannel), std::move(handlers), log_));
  }
  {
    std::lock_guard lock(run_mu_);
    running_ = true;
  }
  asio::co_spawn(executor_, Run(), [self = shared_from_this()](std::exception_ptr e) {
    if (e) self->log_.Error("redis_sentinel_locator_crashed");
    std::lock_guard lock(self->run_mu_);
    self->running_ = false;
    self->run_cv_.notify_all();
  });
  std::lock_guard lock(subscriptions_mu_);
  for (auto& s : subscriptions_) s->Start();
}

void SentinelLocator::Stop() {
  if (stopping_.exchange(true)) return;
  if (!started_.load()) return;
  {
    std::lock_guard lock(subscriptions_mu_);
    for (auto& s : subscriptions_) s->Stop();
  }
  asio::post(executor_, [weak = weak_from_this()] {
    if (auto self = weak.lock(); self && self->timer_) self->timer_->cancel();
  });
  std::unique_lock lock(run_mu_);
  run_cv_.wait_for(lock, std::chrono::seconds(2), [this] { return !running_; });
}

void SentinelLocator::ReleaseIo() {
  {
    std::lock_guard lock(subscriptions_mu_);
    subscriptions_.clear();
  }
  timer_.reset();
}

std::optional<PrimaryEndpoint> SentinelLocator::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::uint64_t SentinelLocator::generation() const {
  return generation_.load(std::memory_order_acquire);
}

void SentinelLocator::ReportFailure(const PrimaryEndpoint& endpoint, bool wrong_role) {
  if (endpoint.generation != generation()) return;  // about a primary already replaced
  if (wrong_role) {
    // The Sentinel we asked named a replica: start the next round with another one.
    std::lock_guard lock(mu_);
    next_sentinel_ = (next_sentinel_ + 1) % std::max<std::size_t>(1, options_.sentinels.size());
  }
  Wake();
}

int SentinelLocator::AddListener(std::function<void()> on_change) {
  std::lock_guard lock(listeners_mu_);
  const int id = next_listener_++;
  listeners_.emplace(id, std::move(on_change));
  return id;
}

void SentinelLocator::RemoveListener(int id) {
  std::lock_guard lock(listeners_mu_);
  listeners_.erase(id);
}

std::size_t SentinelLocator::subscribed_sentinels() const {
  std::lock_guard lock(subscriptions_mu_);
  return static_cast<std::size_t>(std::count_if(subscriptions_.begin(), subscriptions_.end(),
                                                [](const auto& s) { return s->subscribed(); }));
}

std::string SentinelLocator::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void SentinelLocator::Wake() {
  if (wake_pending_.exchange(true)) return;  // one wake-up is enough
  asio::post(executor_, [weak = weak_from_this()] {
    if (auto self = weak.lock(); self && self->timer_) self->timer_->cancel();
  });
}

asio::awaitable<void> SentinelLocator::Run() {
  const auto& c = options_.connection;
  auto backoff = c.reconnect_min;
  while (!stopping_.load()) {
    wake_pending_.store(false);
    auto found = co_await Ask();
    if (stopping_.load()) break;
    std::chrono::milliseconds wait = options_.poll_interval;
    if (found) {
      Adopt(found->first, found->second, "SENTINEL GET-MASTER-ADDR-BY-NAME");
      backoff = c.reconnect_min;
    } else {
      wait = backoff;
      backoff = std::min(backoff * 2, c.reconnect_max);
    }
    if (!wake_pending_.load()) {
      timer_->expires_after(wait);
      co_await timer_->async_wait(kTuple);
    }
    // Woken early (a report, a new subscription): still space the questions out.
    timer_->expires_after(std::max(c.reconnect_min, kMinSpacing));
    co_await timer_->async_wait(kTuple);
  }
}

asio::awaitable<std::optional<std::pair<std::string, std::uint16_t>>> SentinelLocator::Ask() {
  const std::size_t n = options_.sentinels.size();
  std::size_t start = 0;
  {
    std::lock_guard lock(mu_);
    start = next_sentinel_;
  }
  std::string errors;
  std::size_t refused = 0;  // authentication refusals
  for (std::size_t i = 0; i < n && !stopping_.load(); ++i) {
    const std::size_t index = (start + i) % n;
    const RedisOptions o = SentinelConnection(options_, index);
    std::string error;
    if (!tls_error_.empty()) {
      error = tls_error_;
    } else {
      RedisRequest ask;
      ask.Push({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", options_.master_name});
      RedisQueryResult r = co_await QueryRedisOnce(o, tls_.get(), std::move(ask));
      if (!r.reply) {
        error = r.error;
        if (r.auth_failed) ++refused;
      } else if (r.reply->is_array() && r.reply->elements.size() == 2 &&
                 r.reply->elements[0].is_string() && r.reply->elements[1].is_string()) {
        if (auto port = ParsePort(r.reply->elements[1].str)) {
          std::lock_guard lock(mu_);
          next_sentinel_ = index;
          last_error_.clear();
          auth_failed_.store(false, std::memory_order_release);
          co_return std::make_pair(r.reply->elements[0].str, *port);
        }
        error = "an unreadable port " + r.reply->elements[1].str;
      } else if (r.reply->is_error()) {
        error = r.reply->str;
      } else {
        error = "does not know a master named " + options_.master_name;
      }
    }
    if (!errors.empty()) errors += "; ";
    errors += "Sentinel " + o.host + ":" + std::to_string(o.port) + ": " + error;
  }
  std::string logged;
  {
    std::lock_guard lock(mu_);
    if (last_error_ != errors) logged = errors;
    last_error_ = errors;
    auth_failed_.store(n > 0 && refused == n, std::memory_order_release);
  }
  if (!logged.empty()) log_.Warn("redis_sentinel_unanswered", {{"error", logged}});
  co_return std::nullopt;
}

void SentinelLocator::Adopt(const std::string& host, std::uint16_t port, std::string_view why) {
  std::string previous;
  {
    std::lock_guard lock(mu_);
    if (current_ && current_->host == host && current_->port == port) return;
    if (current_) previous = current_->ToString();
    const std::uint64_t next = generation_.load() + 1;
    current_ = PrimaryEndpoint{host, port, next};
    generation_.store(next, std::memory_order_release);
  }
  const std::string now = host + ":" + std::to_string(port);
  if (previous.empty()) {
    log_.Info("redis_primary_found", {{"primary", now}, {"via", why}});
  } else {
    failovers_.fetch_add(1, std::memory_order_relaxed);
    log_.Warn("redis_primary_changed", {{"from", previous}, {"to", now}, {"via", why}});
  }
  std::lock_guard lock(listeners_mu_);
  for (const auto& [id, listener] : listeners_) listener();
}

void SentinelLocator::OnSwitchMaster(std::string_view payload) {
  // "<master name> <old ip> <old port> <new ip> <new port>"
  const auto w = Words(payload);
  if (w.size() != 5 || w[0] != options_.master_name) return;
  const auto port = ParsePort(w[4]);
  if (!port) return;
  Adopt(std::string(w[3]), *port, "+switch-master");
}

}  // namespace keycache
