// KeycachedProcess: the real keycached binary ($KEYCACHED_BIN) running `serve` on an ephemeral
// port in a private temporary working directory, for integration tests. RunKeycached runs the
// binary to completion (CLI and configuration-error tests). Not thread-safe: one test thread
// drives an instance.
//
// The child gets a controlled environment: the defaults below, the test's overrides and the
// sanitizer options of the test process (so an ASan build reports the same way), nothing else.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace keycache::testing {

using EnvVars = std::map<std::string, std::string>;

// $KEYCACHED_BIN (set by kc_add_test) made absolute; "" when unset.
std::string KeycachedBinary();

// The environment every server starts with: PORT=0, HOST=127.0.0.1, KEYCACHE_THREADS=2,
// LOG_LEVEL=info. KeycachedOptions::env is applied on top.
EnvVars DefaultServerEnv();

struct RunResult {
  // The exit code; 128 + signal number when killed by a signal; -1 when it could not be run.
  int exit_code = -1;
  bool timed_out = false;  // killed after the deadline passed
  std::string out;         // stdout
  std::string err;         // stderr
};

// Runs `KEYCACHED_BIN args...` in `workdir` with exactly `env` (plus sanitizer options) and no
// standard input, to completion or until `timeout` (then SIGKILL).
RunResult RunKeycached(const std::vector<std::string>& args, const EnvVars& env,
                       const std::filesystem::path& workdir,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A fresh directory under the system temp dir; removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct KeycachedOptions {
  EnvVars env;                        // overrides of DefaultServerEnv (an empty value = unset)
  std::optional<std::string> dotenv;  // when set, written to workdir/.env before the first start
  // When set, the child enters this network namespace (a path such as /run/netns/<name>, see
  // NetworkNamespace::path()) before it execs; give it a HOST it can listen on there.
  std::string netns;
  // Where the test reaches the server (readiness probe, url()); inside a namespace, its veth
  // address.
  std::string address = "127.0.0.1";
};

class KeycachedProcess {
 public:
  explicit KeycachedProcess(KeycachedOptions options = {});
  // SIGKILL if still running, then removes the working directory.
  ~KeycachedProcess();
  KeycachedProcess(const KeycachedProcess&) = delete;
  KeycachedProcess& operator=(const KeycachedProcess&) = delete;

  // Starts `keycached serve` (again after Stop(), on the same working directory), finds its port
  // in the log's "listening ... port=N" line and waits for GET /health/ready to answer 200, each
  // within `timeout`. On failure the process is killed and the message carries the log.
  ::testing::AssertionResult Start(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // Sends `signo` (SIGTERM by default), then waits for the exit. Returns the exit code, 128 +
  // signal when killed by a signal, or -1 when it did not exit within `timeout` (it is then
  // SIGKILLed) or was not running.
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(30), int signo = SIGTERM);

  // True while the child has not been reaped (checks without blocking).
  bool running();
  // The decoded exit status of the last reaped run (as Stop() returns it); -1 before any.
  int last_exit() const { return last_exit_; }

  std::uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }
  std::string url() const { return "http://" + address_ + ":" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& workdir() const { return workdir_; }
  // The log (stdout and stderr) of the current or last run.
  std::string log() const;
  // ADMIN_TOKEN when the test set it, else the content of <data dir>/admin-token.
  std::string admin_token() const;
  // KEYCACHE_PEPPER, or the pepper the server created in its data directory.
  std::string pepper() const;
  // The data directory (KEYCACHE_DATA_DIR resolved against the workdir; default workdir/var).
  std::filesystem::path data_dir() const;
  // The environment the child was (or will be) started with.
  const EnvVars& env() const { return env_; }
  int starts() const { return starts_; }

 private:
  std::filesystem::path LogPath() const;
  std::optional<std::uint16_t> PortFromLog() const;
  int Reap(std::chrono::milliseconds timeout);

  EnvVars env_;
  std::string netns_;
  std::string address_;
  TempDir temp_;
  std::filesystem::path workdir_;
  pid_t pid_ = -1;
  int last_exit_ = -1;  // decoded status of the last reaped run
  std::uint16_t port_ = 0;
  int starts_ = 0;
};

// Bounded polling: calls `pred` until it returns true or `bound` passes. The pause between
// calls only paces the loop; nothing is asserted on time.
template <class Pred>
bool PollUntil(Pred pred, std::chrono::milliseconds bound = std::chrono::seconds(10),
               std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace keycache::testing
