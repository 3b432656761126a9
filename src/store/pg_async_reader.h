// PgAsyncReader: the PostgreSQL store's point lookups on the HTTP threads' own event loops — one
// pipelined connection per thread (PgPipeline), each made on the database pool and remade there
// after a loss. A lookup from a thread it has no connection for (yet) is declined, and the caller
// reads on the pool as without it. Thread-safe: each thread uses only its own connection.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/async_key_reader.h"
#include "util/log.h"

namespace keycache {

class PgPipeline;

struct PgAsyncReaderOptions {
  std::string url;                          // DATABASE_URL
  std::chrono::milliseconds timeout{5000};  // KEYCACHE_DB_TIMEOUT: each lookup's bound
};

class PgAsyncReader final : public AsyncKeyReader {
 public:
  // Runs a blocking job (a connection attempt) on a thread that may block.
  using Blocking = std::function<void(std::function<void()>)>;

  // One connection per executor; each must run on one thread. Connects nothing yet.
  PgAsyncReader(std::vector<boost::asio::any_io_executor> executors, PgAsyncReaderOptions options,
                Blocking blocking, Logger& log);
  // After the executors stopped running (their threads joined), before they are destroyed.
  ~PgAsyncReader() override;
  PgAsyncReader(const PgAsyncReader&) = delete;
  PgAsyncReader& operator=(const PgAsyncReader&) = delete;

  // Asks for every thread's connection (from any thread: each is installed on its own).
  void Open();
  boost::asio::awaitable<std::optional<Answer>> FindById(KeyId id) override;

  // Lookups answered through the pipelines so far (from each thread's own count; approximate
  // while they run).
  std::uint64_t answered() const;

 private:
  std::vector<std::unique_ptr<PgPipeline>> pipelines_;
};

}  // namespace keycache
