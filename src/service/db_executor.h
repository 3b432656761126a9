// DbExecutor: the thread pools on which every blocking store call runs, so no I/O thread ever
// blocks on SQLite or libpq. Run() hands a job to a pool and awaits its result with a bound;
// when the bound runs out the caller gets Errc::kTimeout while the job still finishes (its
// result is dropped), so jobs must leave the system consistent on their own (they do their
// cache invalidation themselves, on the pool thread).
// Two lanes of `threads` threads each: Read()/PostRead() for jobs that only read the store, and
// Run()/Post() for everything else. Writers that wait for the database's write lock (SQLite's
// busy timeout, a PostgreSQL row lock) then hold up only other writers: verifications and
// lookups keep their own threads. Thread-safe.
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
  DbExecutor(int threads, std::chrono::milliseconds timeout)
      : pool_(threads), reads_(threads), timeout_(timeout) {}
  ~DbExecutor() { Stop(); }
  DbExecutor(const DbExecutor&) = delete;
  DbExecutor& operator=(const DbExecutor&) = delete;

  // F: a callable returning Result<T>. Must be awaited on a single-threaded executor.
  template <class F>
  auto Run(F job) -> boost::asio::awaitable<std::invoke_result_t<F>> {
    return RunOn(pool_, std::move(job));
  }
  // The same for a job that only reads the store.
  template <class F>
  auto Read(F job) -> boost::asio::awaitable<std::invoke_result_t<F>> {
    return RunOn(reads_, std::move(job));
  }

  // Fire-and-forget from any thread (startup work, final flush).
  template <class F>
  void Post(F job) {
    boost::asio::post(pool_, std::move(job));
  }
  template <class F>
  void PostRead(F job) {
    boost::asio::post(reads_, std::move(job));
  }

  // Blocks until every queued job has run. Idempotent.
  void Stop() {
    reads_.join();
    pool_.join();
  }

  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  template <class F>
  auto RunOn(boost::asio::thread_pool& pool, F job)
      -> boost::asio::awaitable<std::invoke_result_t<F>> {
    using R = std::invoke_result_t<F>;
    auto ex = co_await boost::asio::this_coro::executor;
    auto done = std::make_shared<Completion<R>>(ex);
    boost::asio::post(pool, [done, job = std::move(job)]() mutable { done->Set(job()); });
    std::optional<R> r = co_await done->Wait(timeout_);
    if (!r) co_return R(make_error_code(Errc::kTimeout));
    co_return std::move(*r);
  }

  boost::asio::thread_pool pool_;   // writes and anything else
  boost::asio::thread_pool reads_;  // read-only jobs
  const std::chrono::milliseconds timeout_;
};

}  // namespace keycache
