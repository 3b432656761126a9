// Completion<T>: a one-shot result handed from any thread (a database worker, a single-flight
// leader) to one coroutine waiting on a single-threaded executor, with a bounded wait.
// Set() is thread-safe and may run before or after Wait() starts; Wait() is called once, on the
// executor passed to the constructor. keycache's I/O executors each run on one thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "util/check.h"

namespace keycache {

template <class T>
class Completion : public std::enable_shared_from_this<Completion<T>> {
 public:
  explicit Completion(boost::asio::any_io_executor ex) : timer_(std::move(ex)) {}

  void Set(T value) {
    boost::asio::post(timer_.get_executor(),
                      [self = this->shared_from_this(), v = std::move(value)]() mutable {
                        if (self->value_) return;
                        self->value_.emplace(std::move(v));
                        self->timer_.cancel();
                      });
  }

  // nullopt when the timeout ran out first; a later Set() is then dropped.
  boost::asio::awaitable<std::optional<T>> Wait(std::chrono::milliseconds timeout) {
    KC_DCHECK(!waited_);
    waited_ = true;
    if (!value_) {
      timer_.expires_after(timeout);
      co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    co_return std::move(value_);
  }

 private:
  boost::asio::steady_timer timer_;
  std::optional<T> value_;  // touched only on timer_'s executor
  bool waited_ = false;     // Wait() is called once
};

}  // namespace keycache
