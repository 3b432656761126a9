// DbExecutor: the thread pools on which every blocking store call runs, so no I/O thread ever
// blocks on SQLite or libpq. Run() hands a job to a pool and awaits its result with a bound;
// when the bound runs out the caller gets Errc::kTimeout while the job still finishes (its
// result is dropped), so jobs must leave the system consistent on their own (they do their
// cache invalidation themselves, on the pool thread).
// Two lanes of `threads` threads each: Read()/PostRead() for jobs that only read the store, and
// Run()/Post() for everything else. Writers that wait for the database's write lock (SQLite's
// busy timeout, a PostgreSQL row lock) then hold up only other writers: verifications and
// lookups keep their own threads. A third lane of one thread, RunBackground(), is for work no
// request waits for (the usage flush); SetBackgroundNice() lowers that thread's priority so it
// takes the CPU only when the I/O threads leave it. Thread-safe.
#pragma once

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <type_traits>
#include <utility>

#include "service/completion.h"
#include "util/error.h"
#include "util/thread_priority.h"

namespace keycache {

class DbExecutor {
 public:
  DbExecutor(int threads, std::chrono::milliseconds timeout)
      : pool_(threads), reads_(threads), background_(1), timeout_(timeout) {}
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

  // The same for work no request waits for, on the background lane's one thread.
  template <class F>
  auto RunBackground(F job) -> boost::asio::awaitable<std::invoke_result_t<F>> {
    return RunOn(background_, std::move(job));
  }

  // Gives the background lane's thread the nice value `nice` (kMinNice..kMaxNice) and waits
  // until it has. Errors as SetThisThreadNice's, kTimeout if the lane stays busy for the whole
  // timeout, kUnavailable after Stop(); the lane keeps working either way.
  Result<void> SetBackgroundNice(int nice) {
    if (stopped_.load(std::memory_order_acquire)) return make_error_code(Errc::kUnavailable);
    auto done = std::make_shared<std::promise<Result<void>>>();
    std::future<Result<void>> result = done->get_future();
    boost::asio::post(background_, [done, nice] { done->set_value(SetThisThreadNice(nice)); });
    // Bounded like every other wait: the lane may be busy with a flush.
    if (result.wait_for(timeout_) != std::future_status::ready) {
      return make_error_code(Errc::kTimeout);
    }
    return result.get();
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
    stopped_.store(true, std::memory_order_release);
    background_.join();
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

  boost::asio::thread_pool pool_;        // writes and anything else
  boost::asio::thread_pool reads_;       // read-only jobs
  boost::asio::thread_pool background_;  // work no request waits for
  const std::chrono::milliseconds timeout_;
  std::atomic<bool> stopped_{false};
};

}  // namespace keycache
