// PgSession: a raw libpq connection for tests, to look at or change what a PgStore wrote behind
// its back (and to hold locks against it). Not thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

struct pg_conn;

namespace keycache::testing {

class PgSession {
 public:
  explicit PgSession(const std::string& url);  // records a test failure if it cannot connect
  ~PgSession();
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  // Runs SQL text (several statements allowed); failure carries the server's message.
  ::testing::AssertionResult Exec(const std::string& sql);
  // The first column of the first row as text ("NULL" for NULL), or "<no row>"/"<error: ...>".
  std::string Text(const std::string& sql);
  // Every row's first column, as text.
  std::vector<std::string> Column(const std::string& sql);

 private:
  pg_conn* conn_ = nullptr;
};

}  // namespace keycache::testing
