// Helpers for the Redis tests: I/O threads (one io_context each, like keycache's workers),
// running a coroutine to completion from the test thread, and bounded polling.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "redis/redis_client.h"
#include "redis/redis_request.h"
#include "redis/redis_subscriber.h"
#include "support/keycached_process.h"
#include "util/error.h"

namespace keycache::testing {

class IoThreads {
 public:
  explicit IoThreads(int n) {
    for (int i = 0; i < n; ++i) {
      auto ctx = std::make_unique<boost::asio::io_context>(1);
      guards_.emplace_back(ctx->get_executor());
      contexts_.push_back(std::move(ctx));
    }
    for (auto& ctx : contexts_) threads_.emplace_back([c = ctx.get()] { c->run(); });
  }
  ~IoThreads() {
    for (auto& g : guards_) g.reset();
    for (auto& c : contexts_) c->stop();
    for (auto& t : threads_) t.join();
  }
  boost::asio::any_io_executor executor(std::size_t i) { return contexts_[i]->get_executor(); }

  // Runs `rounds` barriers through every context in turn: work posted before (and handlers
  // that work posts, up to `rounds` hops deep) has run when this returns.
  void Drain(int rounds = 3) {
    for (int r = 0; r < rounds; ++r) {
      for (auto& c : contexts_) {
        std::promise<void> done;
        boost::asio::post(*c, [&done] { done.set_value(); });
        done.get_future().wait();
      }
    }
  }
  std::vector<boost::asio::any_io_executor> executors() {
    std::vector<boost::asio::any_io_executor> out;
    for (auto& c : contexts_) out.push_back(c->get_executor());
    return out;
  }

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

// Runs client.Execute(request) as a coroutine on `ex` and waits for it (bounded: 30 s).
inline Result<std::vector<RedisReply>> ExecOn(RedisClient& client, boost::asio::any_io_executor ex,
                                              RedisRequest request) {
  auto task = client.Execute(std::move(request));
  auto future = boost::asio::co_spawn(ex, std::move(task), boost::asio::use_future);
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "Execute did not complete within 30 s";
    return Errc::kTimeout;
  }
  return future.get();
}

inline RedisRequest Cmd(std::initializer_list<std::string_view> args) {
  RedisRequest r;
  r.Push(args);
  return r;
}

// Polls `condition` every 5 ms until it holds or `limit` passes (the harness's PollUntil).
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  return PollUntil(condition, limit, std::chrono::milliseconds(5));
}

// What a subscriber received, recorded on its I/O thread for the test thread to read, and how
// many times it subscribed. Must outlive the subscriber whose handlers Attach set.
class ReceivedMessages {
 public:
  // Sets `h`'s on_message and on_subscribed to record here.
  void Attach(RedisSubscriber::Handlers& h) {
    h.on_message = [this](std::string_view m) {
      std::lock_guard lock(mu_);
      messages_.emplace_back(m);
    };
    h.on_subscribed = [this] { ++subscriptions_; };
  }
  std::vector<std::string> messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }
  int subscriptions() const { return subscriptions_.load(); }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> messages_;
  std::atomic<int> subscriptions_{0};
};

}  // namespace keycache::testing
