// ChildProcess: a program the test runs in the background (Prometheus, redis_exporter, ...),
// its stdout and stderr appended to a log file, stopped by the destructor (SIGTERM, then
// SIGKILL after a grace period) and always reaped. Not thread-safe: one test thread owns it.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace keycache::testing {

class ChildProcess {
 public:
  // Starts `argv` (argv[0] an absolute path) with the test's environment and no standard input.
  ChildProcess(std::vector<std::string> argv, std::filesystem::path log);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // True while the child has not exited (checks without blocking).
  bool running();
  // `signo` (SIGTERM; SIGINT makes wrk print its summary), wait up to `grace`, then SIGKILL;
  // reaps it. True when it exited within the grace period (or had already).
  bool Stop(std::chrono::milliseconds grace = std::chrono::seconds(5), int signo = SIGTERM);
  // The log so far, for failure messages (the last `max_bytes`).
  std::string log(std::size_t max_bytes = 4000) const;

 private:
  const std::filesystem::path log_;
  pid_t pid_ = -1;
};

}  // namespace keycache::testing
