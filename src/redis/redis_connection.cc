#include "redis/redis_connection.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <optional>
#include <utility>

#include "util/check.h"

namespace keycache::redis_detail {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace asio::experimental::awaitable_operators;

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 16 * 1024;
}  // namespace

// ---- ClientShared ----

ClientShared::ClientShared(RedisOptions o, Logger& l) : options(std::move(o)), log(l) {
  if (options.tls.active()) tls = MakeTlsContext(options.tls, tls_error);
}

void ClientShared::RecordFailure(const OpenFailure& failure) {
  std::lock_guard lock(mu);
  last_error = failure.message;
  auth_failed = failure.auth_failed;
}

void ClientShared::RecordSuccess() {
  std::lock_guard lock(mu);
  last_error.clear();
  auth_failed = false;
}

void ClientShared::LoopStarted() {
  std::lock_guard lock(mu);
  ++loops;
}

void ClientShared::LoopEnded() {
  std::lock_guard lock(mu);
  --loops;
  loops_cv.notify_all();
}

bool ClientShared::WaitLoopsEnded(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu);
  return loops_cv.wait_for(lock, limit, [this] { return loops == 0; });
}

// ---- Complete ----

void Complete(Call& call, CallStatus status) {
  KC_CHECK(call.handler.has_value());  // each call completes exactly once
  auto handler = std::move(*call.handler);
  call.handler.reset();
  auto resume = std::move(call.resume);
  // `call` may be destroyed by the caller as soon as the handler runs: nothing below reads it.
  asio::post(resume, [h = std::move(handler), status]() mutable { std::move(h)(status); });
}

// ---- RedisConnection ----

void Abandon(Call& call) {
  if (!call.handler) return;
  auto handler = std::move(*call.handler);
  call.handler.reset();
  // `handler` goes out of scope here and may free the frame that holds `call`.
}

void RedisConnection::ReleaseIo() {
  // Calls that Shutdown never completed (their executor stopped first) still own their waiting
  // coroutines through their handlers.
  std::vector<Call*> calls(queue_.begin(), queue_.end());
  calls.insert(calls.end(), inflight_.begin(), inflight_.end());
  queue_.clear();
  inflight_.clear();
  for (Call* call : calls) Abandon(*call);
  stream_.reset();
  wake_.reset();
  deadline_.reset();
  backoff_.reset();
}

RedisConnection::RedisConnection(asio::any_io_executor executor,
                                 std::shared_ptr<ClientShared> shared, int index)
    : executor_(std::move(executor)),
      shared_(std::move(shared)),
      index_(index),
      read_buf_(kReadChunk),
      wake_(std::in_place, executor_),
      deadline_(std::in_place, executor_),
      backoff_(std::in_place, executor_) {}

void RedisConnection::Start() {
  shared_->LoopStarted();
  auto run = Run();
  asio::co_spawn(executor_, std::move(run),
                 [self = shared_from_this()](std::exception_ptr failure) {
                   if (failure) {
                     try {
                       std::rethrow_exception(failure);
                     } catch (const std::exception& e) {
                       self->shared_->log.Error("redis_connection_crashed", {{"error", e.what()}});
                     } catch (...) {
                       self->shared_->log.Error("redis_connection_crashed");
                     }
                   }
                   self->shared_->LoopEnded();
                 });
}

void RedisConnection::Stop() {
  asio::post(executor_, [self = shared_from_this()] { self->Shutdown(); });
}

void RedisConnection::CheckEndpoint() {
  asio::post(executor_, [self = shared_from_this()] {
    const auto& source = self->shared_->options.endpoint_source;
    if (self->alive_ && source && self->session_generation_ != source->generation()) {
      self->Fail("the Redis primary moved", false);
    }
  });
}

void RedisConnection::Shutdown() {
  stopping_ = true;
  backoff_->cancel();
  if (alive_) {
    Fail("stopping", false);
  } else if (stream_) {
    stream_->Close();  // aborts a connection attempt in progress
  }
}

void RedisConnection::Submit(Call& call) {
  if (!alive_) {
    Complete(call, stopping_ ? CallStatus::kStopped : CallStatus::kDropped);
    return;
  }
  call.enqueued_at = Clock::now();
  queue_.push_back(&call);
  if (queue_.size() == 1) wake_->cancel();  // the writer may be idle; a no-op while it writes
}

void RedisConnection::LogFailure(const std::string& message) {
  // Reconnecting every few hundred ms must not flood the log: say it when the reason changes.
  if (message == last_logged_) return;
  last_logged_ = message;
  shared_->log.Warn("redis_connect_failed",
                    {{"connection", std::to_string(index_)}, {"error", message}});
}

asio::awaitable<void> RedisConnection::Run() {
  const RedisOptions& o = shared_->options;
  auto backoff = o.reconnect_min;
  while (!stopping_) {
    std::optional<OpenFailure> failure;
    OpenFailure unresolved;
    std::optional<RedisTarget> target;
    if (!shared_->tls_error.empty()) {
      failure = OpenFailure{shared_->tls_error};
    } else if (target = ResolveRedisTarget(o, unresolved); !target) {
      failure = unresolved;
    } else {
      stream_ = std::make_unique<RedisStream>(executor_, shared_->tls.get());
      parser_ = std::make_unique<RespParser>();
      failure = co_await OpenRedisStream(*stream_, target->options, *parser_);
      if (failure) ReportOpenFailure(*target, *failure);
      if (!failure && target->endpoint &&
          target->endpoint->generation != o.endpoint_source->generation()) {
        failure = OpenFailure{"the Redis primary moved during the handshake"};
      }
    }
    if (stopping_) break;
    if (failure) {
      shared_->RecordFailure(*failure);
      LogFailure(failure->message);
      stream_.reset();
      backoff_->expires_after(backoff);
      co_await backoff_->async_wait(kTuple);
      backoff = std::min(backoff * 2, o.reconnect_max);
      continue;
    }
    shared_->RecordSuccess();
    if (!last_logged_.empty()) {
      shared_->log.Info("redis_connected", {{"connection", std::to_string(index_)}});
      last_logged_.clear();
    }
    backoff = o.reconnect_min;
    session_generation_ = target->endpoint ? target->endpoint->generation : 0;
    alive_ = true;
    shared_->connected.fetch_add(1, std::memory_order_acq_rel);
    up_.store(true, std::memory_order_release);

    auto session = ReadLoop() && WriteLoop() && DeadlineLoop();
    co_await std::move(session);
    // Fail() ended the session: pending calls are completed, the socket is closed.
    stream_.reset();
    if (stopping_) break;
    backoff_->expires_after(o.reconnect_min);
    co_await backoff_->async_wait(kTuple);
  }
  stream_.reset();
}

void RedisConnection::Fail(std::string_view why, bool timed_out) {
  if (!alive_) return;
  alive_ = false;
  up_.store(false, std::memory_order_release);
  shared_->connected.fetch_sub(1, std::memory_order_acq_rel);
  stream_->Close();
  wake_->cancel();
  deadline_->cancel();
  if (!stopping_) {
    shared_->log.Warn("redis_connection_lost",
                      {{"connection", std::to_string(index_)}, {"reason", why}});
  }
  const auto now = Clock::now();
  auto status_of = [&](const Call& c) {
    if (stopping_) return CallStatus::kStopped;
    if (timed_out && c.deadline <= now) return CallStatus::kTimeout;
    return CallStatus::kDropped;
  };
  std::deque<Call*> inflight = std::move(inflight_);
  std::vector<Call*> queued = std::move(queue_);
  inflight_.clear();
  queue_.clear();
  for (Call* c : inflight) Complete(*c, status_of(*c));
  for (Call* c : queued) Complete(*c, status_of(*c));
}

asio::awaitable<void> RedisConnection::ReadLoop() {
  while (alive_) {
    auto [ec, n] = co_await stream_->ReadSome(asio::buffer(read_buf_));
    if (ec) {
      Fail(ec == asio::error::eof ? "closed by the server" : ec.message(), false);
      co_return;
    }
    parser_->Feed(std::string_view(read_buf_.data(), n));
    for (;;) {
      auto next = parser_->Next();
      if (!next) {
        Fail("RESP protocol error", false);
        co_return;
      }
      if (!*next) break;
      if (inflight_.empty()) {
        Fail("a reply nobody asked for", false);
        co_return;
      }
      Call* call = inflight_.front();
      if (call->replies.empty()) call->replies.reserve(call->expected);
      call->replies.push_back(std::move(**next));
      if (call->replies.size() == call->expected) {
        inflight_.pop_front();
        Complete(*call, CallStatus::kOk);
      }
    }
  }
}

asio::awaitable<void> RedisConnection::WriteLoop() {
  while (alive_) {
    if (queue_.empty()) {
      wake_->expires_at(Clock::time_point::max());
      co_await wake_->async_wait(kTuple);
      continue;
    }
    // Everything submitted since the last write goes out in one write: concurrent callers
    // share a round trip (auto-pipelining).
    write_buf_.clear();
    for (Call* c : queue_) {
      write_buf_.append(*c->payload);
      inflight_.push_back(c);
    }
    queue_.clear();
    auto [ec, n] = co_await stream_->Write(asio::buffer(write_buf_));
    if (ec) {
      Fail(ec.message(), false);
      co_return;
    }
    if (write_buf_.capacity() > 1 << 20) std::string().swap(write_buf_);
  }
}

asio::awaitable<void> RedisConnection::DeadlineLoop() {
  const auto timeout = shared_->options.command_timeout;
  while (alive_) {
    std::optional<Clock::time_point> oldest;
    if (!inflight_.empty()) oldest = inflight_.front()->enqueued_at;
    if (!queue_.empty()) {
      const auto q = queue_.front()->enqueued_at;
      oldest = oldest ? std::min(*oldest, q) : q;
    }
    const auto now = Clock::now();
    if (oldest && now - *oldest >= timeout) {
      Fail("no reply within command_timeout", true);
      co_return;
    }
    // Idle: look again a quarter timeout later, so a call that arrives meanwhile is caught at
    // most 1.25 x command_timeout after it was sent, without re-arming per call.
    deadline_->expires_at(oldest ? *oldest + timeout
                                 : now + std::max(timeout / 4, std::chrono::milliseconds(1)));
    co_await deadline_->async_wait(kTuple);
  }
}

}  // namespace keycache::redis_detail
