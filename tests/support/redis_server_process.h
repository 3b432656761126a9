// RedisServerProcess: a real redis-server (from PATH) on a free loopback port with a generated
// config in a private temporary directory, for tests. Not thread-safe: one test thread drives
// an instance (the client under test may run on other threads).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "redis/redis_options.h"

namespace keycache::testing {

class TempDir;

struct RedisServerOptions {
  std::string password;                // requirepass; empty = none
  std::string acl_user, acl_password;  // adds `user NAME on >PASS ~* &* +@all`
  struct AclUser {
    std::string name, password;
    std::string rules = "~* &* +@all";  // e.g. "~* &* +@all -incr"
  };
  std::vector<AclUser> more_users;  // each adds `user NAME on >PASSWORD RULES`
  // Renames FLUSHDB FLUSHALL KEYS CONFIG DEBUG EVAL SCRIPT to "" and SHUTDOWN to a random name.
  bool hardened = true;
  // With `hardened`: CONFIG is renamed to this secret name instead of "" (for fault injection
  // that needs CONFIG SET, see redis_faults.h); empty keeps it disabled.
  std::string config_command;
  // Addresses to listen on (the first must be loopback: readiness is checked there); add a veth
  // address for instances in another network namespace.
  std::vector<std::string> bind = {"127.0.0.1"};
  std::string maxmemory = "64mb";
  std::string maxmemory_policy = "allkeys-lru";
  struct Tls {
    std::string cert, key, ca;
    bool require_client_cert = false;
  };
  std::optional<Tls> tls;  // TLS only: `port 0` + `tls-port`
  // Lines appended to the generated config (replicaof, masterauth, announce addresses, ...).
  std::vector<std::string> extra_config;
  // A Sentinel (`redis-server <conf> --sentinel`): the config holds only bind, port, dir,
  // logfile, requirepass (`password`) and `extra_config` (the `sentinel ...` lines).
  bool sentinel = false;
  // A shipped config (deploy/redis/*.conf) to start from instead of the generated one: its
  // `include`s are inlined (found by file name beside it or one folder up) and the harness's own
  // directives — bind, port (tls-port and the TLS files with `tls`), dir, logfile, daemonize —
  // and `extra_config` replace the file's lines in place (support/redis_config_rewrite.h);
  // auth, hardening and memory come from the file alone (`password` is then only what the
  // harness's clients send: the file's password for its `default` user).
  std::string base_config;
};

class RedisServerProcess {
 public:
  explicit RedisServerProcess(RedisServerOptions options = {});
  ~RedisServerProcess();  // SIGKILL if running, then removes the directory
  RedisServerProcess(const RedisServerProcess&) = delete;
  RedisServerProcess& operator=(const RedisServerProcess&) = delete;

  // Picks a free port (first start only), writes the config, runs redis-server and waits (up to
  // 10 s) until the port accepts TCP connections. On failure the message carries the log.
  ::testing::AssertionResult Start();
  void Kill();                           // SIGKILL and reap
  void Stop();                           // SIGTERM and reap (SIGKILL after 10 s)
  ::testing::AssertionResult Restart();  // Stop() if running, then Start() on the same port
  // SIGSTOP / SIGCONT: a server that holds its connections but answers nothing.
  void Pause();
  void Resume();

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool running();
  std::string log() const;
  // The server's working directory (`dir`: its RDB file, its logs).
  std::filesystem::path dir() const;
  const RedisServerOptions& options() const { return options_; }

  // host/port/password (and the CA, for TLS) for a client of this server.
  RedisOptions ClientOptions() const;

 private:
  void Reap(int signal, std::chrono::milliseconds grace);
  void WriteGeneratedConfig(std::ostream& out) const;
  std::string ShippedConfig() const;  // base_config rewritten for this process

  const RedisServerOptions options_;
  std::unique_ptr<TempDir> dir_;
  std::string shutdown_name_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool paused_ = false;
};

}  // namespace keycache::testing
