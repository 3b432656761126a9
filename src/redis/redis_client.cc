#include "redis/redis_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <utility>

#include "redis/redis_connection.h"

namespace keycache {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using redis_detail::Call;
using redis_detail::CallStatus;
using redis_detail::RedisConnection;

namespace redis_detail {

// The connections and how to pick one. Immutable after construction (the connections' own
// state is theirs) but for the endpoint listener, set and cleared by the client's Start/Stop;
// shared by the client and its Execute coroutines in flight.
class Pool {
 public:
  struct Group {  // the connections living on one executor
    asio::any_io_executor executor;
    std::vector<std::shared_ptr<RedisConnection>> connections;
  };

  Pool(std::vector<asio::any_io_executor> executors, RedisOptions options, Logger& log)
      : shared(std::make_shared<ClientShared>(std::move(options), log)) {
    if (executors.empty()) throw std::invalid_argument("RedisClient needs at least one executor");
    const int size = std::max(1, shared->options.pool_size);
    for (const auto& ex : executors) {
      auto group = std::make_unique<Group>();
      group->executor = ex;
      groups.push_back(std::move(group));
    }
    for (int i = 0; i < size; ++i) {
      Group& g = *groups[static_cast<std::size_t>(i) % groups.size()];
      auto conn = std::make_shared<RedisConnection>(g.executor, shared, i);
      g.connections.push_back(conn);
      connections.push_back(std::move(conn));
    }
  }

  // Sentinel mode: every change of primary makes each connection check its session.
  void FollowEndpoint() {
    const auto& source = shared->options.endpoint_source;
    if (!source) return;
    std::vector<std::weak_ptr<RedisConnection>> weak(connections.begin(), connections.end());
    listener = source->AddListener([weak = std::move(weak)] {
      for (const auto& w : weak) {
        if (auto c = w.lock()) c->CheckEndpoint();
      }
    });
  }
  void StopFollowing() {
    if (listener) shared->options.endpoint_source->RemoveListener(*std::exchange(listener, {}));
  }

  // A connected connection, preferring the caller's executor; null when none is up.
  std::shared_ptr<RedisConnection> Pick(const asio::any_io_executor& caller) const {
    for (const auto& g : groups) {
      if (g->executor != caller) continue;
      // The first up connection of the caller's executor, always the same one: concurrent
      // calls then share its writes and reads (auto-pipelining), which costs Redis and us far
      // fewer syscalls than spreading them; the others stand by for when it drops.
      for (const auto& c : g->connections) {
        if (c->up()) return c;
      }
      break;
    }
    const std::size_t n = connections.size();
    const unsigned start = next_any.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& c = connections[(start + i) % n];
      if (c->up()) return c;
    }
    return nullptr;
  }

  const std::shared_ptr<ClientShared> shared;
  std::vector<std::unique_ptr<Group>> groups;
  std::vector<std::shared_ptr<RedisConnection>> connections;
  mutable std::atomic<unsigned> next_any{0};
  std::optional<int> listener;  // Start/Stop only
};

namespace {

asio::awaitable<Result<std::vector<RedisReply>>> ExecuteOn(std::shared_ptr<Pool> pool,
                                                           RedisRequest request) {
  if (request.empty()) co_return std::vector<RedisReply>();
  const asio::any_io_executor caller = co_await asio::this_coro::executor;
  const RedisOptions& o = pool->shared->options;
  Call call;
  call.payload = &request.payload();
  call.expected = request.size();
  call.deadline = Clock::now() + o.command_timeout;
  for (int attempt = 0;; ++attempt) {
    const std::shared_ptr<RedisConnection> conn = pool->Pick(caller);
    if (!conn) co_return Errc::kUnavailable;
    call.replies.clear();
    call.resume = caller;
    const bool local = conn->executor() == caller;
    const CallStatus status =
        co_await redis_detail::AsyncSubmit(conn, call, local, asio::use_awaitable);
    switch (status) {
      case CallStatus::kOk:
        co_return std::move(call.replies);
      case CallStatus::kTimeout:
        co_return Errc::kTimeout;
      case CallStatus::kStopped:
        co_return Errc::kUnavailable;
      case CallStatus::kDropped:
        if (Clock::now() >= call.deadline) co_return Errc::kTimeout;
        if (attempt >= o.max_retries) co_return Errc::kUnavailable;
        break;
    }
  }
}

}  // namespace
}  // namespace redis_detail

RedisClient::RedisClient(std::vector<asio::any_io_executor> executors, RedisOptions options,
                         Logger& log)
    : pool_(std::make_shared<redis_detail::Pool>(std::move(executors), std::move(options), log)) {}

RedisClient::~RedisClient() { Stop(); }

void RedisClient::Start() {
  if (stopped_.load() || started_.exchange(true)) return;
  pool_->FollowEndpoint();
  for (const auto& c : pool_->connections) c->Start();
}

void RedisClient::Stop() {
  if (stopped_.exchange(true)) return;
  if (!started_.load()) return;
  pool_->StopFollowing();
  for (const auto& c : pool_->connections) c->Stop();
  pool_->shared->WaitLoopsEnded(std::chrono::seconds(1));
}

void RedisClient::ReleaseIo() {
  for (const auto& c : pool_->connections) c->ReleaseIo();
}

asio::awaitable<Result<std::vector<RedisReply>>> RedisClient::Execute(RedisRequest request) {
  return redis_detail::ExecuteOn(pool_, std::move(request));
}

Result<std::vector<RedisReply>> RedisClient::ExecuteSync(RedisRequest request) {
  if (request.empty()) return std::vector<RedisReply>();
  const std::shared_ptr<RedisConnection> conn = pool_->Pick(asio::any_io_executor());
  if (!conn) return Errc::kUnavailable;
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<std::vector<RedisReply>>> result;
  };
  auto state = std::make_shared<State>();
  auto task = redis_detail::ExecuteOn(pool_, std::move(request));
  asio::co_spawn(conn->executor(), std::move(task),
                 [state](std::exception_ptr failure, Result<std::vector<RedisReply>> r) {
                   std::lock_guard lock(state->mu);
                   if (failure) {
                     state->result.emplace(Errc::kUnavailable);
                   } else {
                     state->result.emplace(std::move(r));
                   }
                   state->cv.notify_all();
                 });
  // Waits in slices so that Stop() releases every blocked caller at once, even when the call
  // sits on an executor that no longer runs (its completion would never come).
  std::unique_lock lock(state->mu);
  const auto deadline = std::chrono::steady_clock::now() + pool_->shared->options.command_timeout +
                        std::chrono::seconds(1);
  while (!state->result) {
    if (stopped_.load(std::memory_order_acquire)) return Errc::kUnavailable;
    if (std::chrono::steady_clock::now() >= deadline) return Errc::kTimeout;
    state->cv.wait_for(lock, std::chrono::milliseconds(20));
  }
  return std::move(*state->result);
}

bool RedisClient::connected() const { return connected_count() > 0; }

std::size_t RedisClient::connected_count() const {
  return pool_->shared->connected.load(std::memory_order_acquire);
}

std::string RedisClient::last_error() const {
  std::lock_guard lock(pool_->shared->mu);
  return pool_->shared->last_error;
}

bool RedisClient::auth_failed() const {
  std::lock_guard lock(pool_->shared->mu);
  return pool_->shared->auth_failed;
}

std::size_t RedisClient::pool_size() const { return pool_->connections.size(); }

const RedisOptions& RedisClient::options() const { return pool_->shared->options; }

}  // namespace keycache
