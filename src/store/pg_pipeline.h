// PgPipeline: one PostgreSQL connection driven by one I/O thread's event loop, in libpq's
// pipeline mode: each FindById sends its prepared statement and a sync point without waiting,
// so the lookups of every request on that thread share one connection, their answers arriving
// in order. No call blocks the thread: the socket is watched by the executor, and each lookup's
// wait is bounded. The connection is made (and remade after a loss) on a thread that may block,
// by `connect`; meanwhile FindById declines (nullopt), and the caller reads elsewhere.
// Every member is used on `executor`'s thread only, except the constructor and destructor
// (which run while that thread does not run the executor).
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "store/async_key_reader.h"
#include "store/pg_connection.h"
#include "util/log.h"

namespace keycache {

class PgPipeline {
 public:
  // Makes a connection with the find statement prepared (blocking; run on `blocking`).
  using Connect = std::function<Result<std::unique_ptr<PgConnection>>()>;
  // Runs a job on a thread that may block (the database pool).
  using Blocking = std::function<void(std::function<void()>)>;

  PgPipeline(boost::asio::any_io_executor executor, Connect connect, Blocking blocking,
             std::chrono::milliseconds timeout, Logger& log);
  ~PgPipeline();
  PgPipeline(const PgPipeline&) = delete;
  PgPipeline& operator=(const PgPipeline&) = delete;

  // Asks for a connection now (startup); FindById also asks when it finds none.
  void Open();
  boost::asio::awaitable<std::optional<AsyncKeyReader::Answer>> FindById(KeyId id);

  const boost::asio::any_io_executor& executor() const { return executor_; }
  bool ready() const { return conn_ != nullptr; }
  // Lookups answered through this connection, and connections made (tests, metrics).
  std::uint64_t answered() const { return answered_.load(std::memory_order_relaxed); }
  std::uint64_t connects() const { return connects_.load(std::memory_order_relaxed); }

 private:
  struct Waiter;
  void Install(std::unique_ptr<PgConnection> conn);
  // Ends the connection: every lookup in flight gets `error`; a new one is asked for later.
  void Drop(boost::system::error_code error, const char* why);
  boost::asio::awaitable<void> ReadLoop();
  boost::asio::awaitable<void> WriteLoop();
  // Hands out every complete answer libpq holds; false if the stream made no sense.
  bool Deliver();

  const boost::asio::any_io_executor executor_;
  const Connect connect_;
  const Blocking blocking_;
  const std::chrono::milliseconds timeout_;
  Logger& log_;
  // Shared with the connect job, which may finish after this object is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  std::unique_ptr<PgConnection> conn_;
  std::optional<boost::asio::posix::stream_descriptor> socket_;  // a dup of libpq's socket
  std::deque<std::shared_ptr<Waiter>> waiters_;                  // in the order sent
  std::uint64_t generation_ = 0;  // of the connection: loops of an older one leave
  bool reading_ = false, writing_ = false, connecting_ = false;
  std::chrono::steady_clock::time_point next_connect_{};
  std::atomic<std::uint64_t> answered_{0}, connects_{0};
};

}  // namespace keycache
