// DbExecutor: the thread pool on which every blocking store call runs, so no I/O thread ever
// blocks on SQLite or libpq. Run() hands a job to the pool and awaits its result with a bound;
// when the bound runs out the caller gets Errc::kTimeout while the job still finishes (its
// result is dropped), so jobs must leave the system consistent on their own (they do their
// cache invalidation themselves, on the pool thread). Thread-safe.
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <type_traits>
#include <utility>

#include "service/completion.h"
#include "util/error.h"

namespace keycache {

class DbExecutor {
 public:
  DbExecutor(int threads, std::chrono::milliseconds timeout) : pool_(threads), timeout_(timeout) {}
  ~DbExecutor() { Stop(); }
  DbExecutor(const DbExecutor&) = delete;
  DbExecutor& operator=(const DbExecutor&) = delete;

  // F: a callable returning Result<T>. Must be awaited on a single-threaded executor.
  template <class F>
  auto Run(F job) -> boost::asio::awaitable<std::invoke_result_t<F>> {
    using R = std::invoke_result_t<F>;
    auto ex = co_await boost::asio::this_coro::executor;
    auto done = std::make_shared<Completion<R>>(ex);
    boost::asio::post(pool_, [done, job = std::move(job)]() mutable { done->Set(job()); });
    std::optional<R> r = co_await done->Wait(timeout_);
    if (!r) co_return R(make_error_code(Errc::kTimeout));
    co_return std::move(*r);
  }

  // Fire-and-forget from any thread (startup work, final flush).
  template <class F>
  void Post(F job) {
    boost::asio::post(pool_, std::move(job));
  }

  // Blocks until every queued job has run. Idempotent.
  void Stop() { pool_.join(); }

  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  boost::asio::thread_pool pool_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace keycache
