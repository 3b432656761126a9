#include "redis/redis_subscriber.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "redis/redis_request.h"
#include "redis/redis_stream.h"
#include "redis/resp_parser.h"

namespace keycache {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace asio::experimental::awaitable_operators;

namespace redis_detail {

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

// The subscriber's state. Shared with its coroutine so that the loop may outlive the
// RedisSubscriber by the moments it takes to wind down. Members below `executor-only` are
// touched only on the executor's thread.
class SubscriberLoop : public std::enable_shared_from_this<SubscriberLoop> {
 public:
  SubscriberLoop(asio::any_io_executor executor, RedisOptions options, std::string channel,
                 RedisSubscriber::Handlers handlers, Logger& log,
                 std::chrono::milliseconds ping_interval)
      : executor_(std::move(executor)),
        options_(std::move(options)),
        channel_(std::move(channel)),
        handlers_(std::move(handlers)),
        log_(log),
        ping_interval_(ping_interval),
        ping_timer_(executor_),
        backoff_(executor_),
        read_buf_(16 * 1024) {
    if (options_.tls.active()) tls_ = MakeTlsContext(options_.tls, tls_error_);
  }

  void Start() {
    {
      std::lock_guard lock(mu_);
      running_ = true;
    }
    if (const auto& source = options_.endpoint_source) {
      // Sentinel mode: a change of primary drops a subscription to the old one.
      std::weak_ptr<SubscriberLoop> weak = shared_from_this();
      listener_ = source->AddListener([weak] {
        if (auto self = weak.lock()) {
          asio::post(self->executor_, [self] {
            const auto& src = self->options_.endpoint_source;
            if (self->alive_ && self->session_generation_ != src->generation()) {
              self->Fail("the Redis primary moved");
            }
          });
        }
      });
    }
    auto run = Run();
    asio::co_spawn(executor_, std::move(run), [self = shared_from_this()](std::exception_ptr e) {
      if (e) self->log_.Error("redis_subscriber_crashed");
      std::lock_guard lock(self->mu_);
      self->running_ = false;
      self->done_cv_.notify_all();
    });
  }

  void Stop() {
    stopping_.store(true, std::memory_order_release);
    if (listener_) options_.endpoint_source->RemoveListener(*std::exchange(listener_, {}));
    asio::post(executor_, [self = shared_from_this()] { self->Shutdown(); });
    std::unique_lock lock(mu_);
    done_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return !running_; });
  }

  bool subscribed() const { return subscribed_.load(std::memory_order_acquire); }
  Clock::time_point last_sign_of_life() const {
    return Clock::time_point(Clock::duration(last_sign_.load(std::memory_order_acquire)));
  }
  std::string last_error() const {
    std::lock_guard lock(mu_);
    return last_error_;
  }

 private:
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  void Touch() {
    last_sign_.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
  }
  void SetError(std::string text) {
    std::lock_guard lock(mu_);
    last_error_ = std::move(text);
  }

  // `base` with the next of handlers_.nodes() (Cluster: any node will do) when there are any.
  RedisOptions NextNode(RedisOptions base) {
    RedisOptions o = std::move(base);
    if (!handlers_.nodes) return o;
    const std::vector<RedisEndpoint> nodes = handlers_.nodes();
    if (nodes.empty()) return o;
    const RedisEndpoint& node = nodes[attempt_++ % nodes.size()];
    o.host = node.host;
    o.port = node.port;
    return o;
  }

  void Shutdown() {
    backoff_.cancel();
    Fail("stopping");
    if (stream_) stream_->Close();
  }

  void Fail(std::string_view why) {
    if (!alive_) return;
    alive_ = false;
    stream_->Close();
    ping_timer_.cancel();
    if (!stopping()) log_.Warn("redis_subscription_lost", {{"reason", why}});
  }

  asio::awaitable<void> Run() {
    auto backoff = options_.reconnect_min;
    std::string last_logged;
    while (!stopping()) {
      std::optional<OpenFailure> failure;
      OpenFailure unresolved;
      std::optional<RedisTarget> target;
      if (!tls_error_.empty()) {
        failure = OpenFailure{tls_error_};
      } else if (target = ResolveRedisTarget(options_, unresolved); !target) {
        failure = unresolved;
      } else {
        stream_ = std::make_unique<RedisStream>(executor_, tls_.get());
        parser_ = std::make_unique<RespParser>();
        failure = co_await OpenRedisStream(*stream_, NextNode(target->options), *parser_);
        if (failure) ReportOpenFailure(*target, *failure);
        if (!failure && target->endpoint &&
            target->endpoint->generation != options_.endpoint_source->generation()) {
          failure = OpenFailure{"the Redis primary moved during the handshake"};
        }
      }
      if (stopping()) break;
      if (!failure) {
        RedisRequest subscribe;
        subscribe.Push({"SUBSCRIBE", channel_});
        auto [ec, n] = co_await stream_->Write(asio::buffer(subscribe.payload()));
        if (ec) failure = OpenFailure{"Redis SUBSCRIBE failed: " + ec.message()};
      }
      if (failure) {
        SetError(failure->message);
        if (failure->message != last_logged) {
          log_.Warn("redis_subscribe_failed", {{"error", failure->message}});
          last_logged = failure->message;
        }
        stream_.reset();
        backoff_.expires_after(backoff);
        co_await backoff_.async_wait(kTuple);
        backoff = std::min(backoff * 2, options_.reconnect_max);
        continue;
      }
      SetError("");
      last_logged.clear();
      backoff = options_.reconnect_min;
      session_generation_ = target->endpoint ? target->endpoint->generation : 0;
      alive_ = true;
      ping_sent_ = Clock::now();  // the SUBSCRIBE confirmation is owed like a PING reply
      auto session = ReadLoop() && PingLoop();
      co_await std::move(session);
      stream_.reset();
      const bool was_subscribed = subscribed_.exchange(false, std::memory_order_acq_rel);
      if (was_subscribed && !stopping() && handlers_.on_disconnected) handlers_.on_disconnected();
      if (stopping()) break;
      backoff_.expires_after(options_.reconnect_min);
      co_await backoff_.async_wait(kTuple);
    }
    stream_.reset();
  }

  asio::awaitable<void> ReadLoop() {
    while (alive_) {
      auto [ec, n] = co_await stream_->ReadSome(asio::buffer(read_buf_));
      if (ec) {
        Fail(ec == asio::error::eof ? "closed by the server" : ec.message());
        co_return;
      }
      Touch();
      ping_sent_.reset();
      parser_->Feed(std::string_view(read_buf_.data(), n));
      for (;;) {
        auto next = parser_->Next();
        if (!next) {
          Fail("RESP protocol error");
          co_return;
        }
        if (!*next) break;
        if (!Handle(**next)) co_return;
        if (!alive_) co_return;
      }
    }
  }

  // false: the connection has failed.
  bool Handle(const RedisReply& reply) {
    if (reply.is_error()) {
      SetError("Redis refused SUBSCRIBE: " + reply.str);
      Fail(reply.str);
      return false;
    }
    if (!reply.is_array() || reply.elements.empty()) {
      Anomaly("a push that is not an array");
      return true;
    }
    const auto& e = reply.elements;
    const std::string_view kind = e[0].is_string() ? e[0].text() : std::string_view();
    const bool ours = e.size() >= 2 && e[1].is_string() && e[1].str == channel_;
    if (kind == "message") {
      if (e.size() != 3 || !ours || !e[2].is_string()) {
        Anomaly("a message push of the wrong shape or for another channel");
      } else if (!stopping() && handlers_.on_message) {
        handlers_.on_message(e[2].str);
      }
    } else if (kind == "subscribe") {
      if (!ours) {
        Anomaly("a subscription confirmation for another channel");
        return true;
      }
      subscribed_.store(true, std::memory_order_release);
      if (!stopping() && handlers_.on_subscribed) handlers_.on_subscribed();
    } else if (kind != "pong") {
      Anomaly("an unexpected push");
    }
    return true;  // every push is a sign of life, already noted
  }

  void Anomaly(std::string_view what) {
    if (!stopping() && handlers_.on_anomaly) handlers_.on_anomaly(what);
  }

  asio::awaitable<void> PingLoop() {
    constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
    while (alive_) {
      ping_timer_.expires_after(std::min(ping_interval_, options_.command_timeout));
      co_await ping_timer_.async_wait(kTuple);
      if (!alive_) co_return;
      const auto now = Clock::now();
      if (ping_sent_) {
        if (now - *ping_sent_ >= options_.command_timeout) {
          Fail("no reply to PING within command_timeout");
          co_return;
        }
        continue;
      }
      if (now - last_sign_of_life() < ping_interval_) continue;
      ping_sent_ = now;
      auto [ec, n] = co_await stream_->Write(asio::buffer(kPing));
      if (ec) {
        Fail(ec.message());
        co_return;
      }
    }
  }

  // Immutable after construction.
  const asio::any_io_executor executor_;
  const RedisOptions options_;
  const std::string channel_;
  const RedisSubscriber::Handlers handlers_;
  Logger& log_;
  const std::chrono::milliseconds ping_interval_;
  std::shared_ptr<asio::ssl::context> tls_;
  std::string tls_error_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> subscribed_{false};
  std::atomic<Clock::rep> last_sign_{0};

  mutable std::mutex mu_;
  std::condition_variable done_cv_;
  bool running_ = false;         // guarded by mu_
  std::optional<int> listener_;  // Start/Stop only (the RedisSubscriber's calling thread)
  std::string last_error_;       // guarded by mu_

  // Executor-only.
  std::unique_ptr<RedisStream> stream_;
  std::unique_ptr<RespParser> parser_;
  bool alive_ = false;
  std::uint64_t session_generation_ = 0;  // the endpoint generation the session was opened under
  std::size_t attempt_ = 0;               // rotates through handlers_.nodes()
  std::optional<Clock::time_point> ping_sent_;  // a PING (or SUBSCRIBE) awaits its reply
  asio::steady_timer ping_timer_;
  asio::steady_timer backoff_;
  std::vector<char> read_buf_;
};

}  // namespace redis_detail

RedisSubscriber::RedisSubscriber(asio::any_io_executor executor, RedisOptions options,
                                 std::string channel, Handlers handlers, Logger& log,
                                 std::chrono::milliseconds ping_interval)
    : loop_(std::make_shared<redis_detail::SubscriberLoop>(std::move(executor), std::move(options),
                                                           std::move(channel), std::move(handlers),
                                                           log, ping_interval)) {}

RedisSubscriber::~RedisSubscriber() { Stop(); }

void RedisSubscriber::Start() {
  if (started_.exchange(true) || stopped_.load()) return;
  loop_->Start();
}

void RedisSubscriber::Stop() {
  if (stopped_.exchange(true)) return;
  if (started_.load()) loop_->Stop();
}

bool RedisSubscriber::subscribed() const { return loop_->subscribed(); }

std::chrono::steady_clock::time_point RedisSubscriber::last_sign_of_life() const {
  return loop_->last_sign_of_life();
}

std::string RedisSubscriber::last_error() const { return loop_->last_error(); }

}  // namespace keycache
