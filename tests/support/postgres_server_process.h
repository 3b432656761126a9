// PostgresServerProcess: a real PostgreSQL 15 server (initdb + postgres, Debian's binaries) on a
// free loopback port, its data and unix socket in a private temporary directory, with one
// password-authenticated superuser. As root, initdb and postgres (which refuse to run as root)
// run as the `postgres` system user, who then owns the directory. Not thread-safe: one test
// thread drives an instance (clients may run on other threads).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace keycache::testing {

struct PostgresServerOptions {
  // Where initdb and postgres live; $KEYCACHE_PG_BINDIR overrides it.
  std::string bin_dir = "/usr/lib/postgresql/15/bin";
  std::string user = "keycache";
  std::string password = "kc-test-password";
  struct Tls {
    std::string cert, key;  // PEM files; copied into the server's directory
  };
  std::optional<Tls> tls;  // ssl=on; clients may still connect without TLS
};

class PostgresServerProcess {
 public:
  explicit PostgresServerProcess(PostgresServerOptions options = {});
  ~PostgresServerProcess();  // immediate shutdown if running, then removes the directory
  PostgresServerProcess(const PostgresServerProcess&) = delete;
  PostgresServerProcess& operator=(const PostgresServerProcess&) = delete;

  // The first start runs initdb and picks a free port; every start runs postgres and waits (up
  // to 30 s) until it accepts connections. On failure the message carries the log.
  ::testing::AssertionResult Start();
  void Stop();                           // fast shutdown (SIGINT) and reap
  void Kill();                           // immediate shutdown (SIGQUIT) and reap
  ::testing::AssertionResult Restart();  // Stop(), then Start() on the same port and data

  bool running();
  std::uint16_t port() const { return port_; }
  std::string log() const;

  // postgresql://user:password@127.0.0.1:port/database
  std::string Url(const std::string& database = "postgres") const;
  // The same through the server's unix socket: for a client in another network namespace.
  std::string SocketUrl(const std::string& database = "postgres") const;
  // Creates a database, e.g. one per test.
  ::testing::AssertionResult CreateDatabase(const std::string& name);

 private:
  ::testing::AssertionResult RunInitdb();
  // Forks and execs `argv` as the server's user with stdout and stderr appended to the log.
  pid_t Spawn(const std::vector<std::string>& argv);
  void Reap(int signal);

  const PostgresServerOptions options_;
  std::filesystem::path dir_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool switch_user_ = false;
  bool initialized_ = false;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace keycache::testing
