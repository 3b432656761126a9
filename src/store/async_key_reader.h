// AsyncKeyReader: the store's point lookup (KeyStore::FindById) as a coroutine on the caller's
// I/O thread, for a store whose reads are network round trips (PostgreSQL): the verification's
// miss path then costs no hand-off to a database thread and back. Optional: a store without one
// (SQLite) is read on the database pool, and so is any read this reader declines.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>

#include "core/key_id.h"
#include "core/key_record.h"
#include "util/error.h"

namespace keycache {

class AsyncKeyReader {
 public:
  using Answer = Result<std::optional<KeyRecord>>;
  virtual ~AsyncKeyReader() = default;
  // Must be awaited on one of the executors the reader was built for. nullopt: declined (no
  // connection on this thread just now); the caller reads on the database pool instead. An
  // answer is exactly KeyStore::FindById's, with the same errors (kTimeout, kDatabase).
  virtual boost::asio::awaitable<std::optional<Answer>> FindById(KeyId id) = 0;
};

}  // namespace keycache
