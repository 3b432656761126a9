// PromtoolCheck: runs Prometheus' own `promtool check metrics` on an exposition text, for the
// tests that prove /metrics parses. Header-only so that unit and integration tests share it.
// Callers assert that kPromtool exists first: a missing promtool fails, never skips.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace keycache::testing {

inline constexpr const char* kPromtool = "/usr/bin/promtool";

struct PromtoolResult {
  int exit_code = -1;  // -1: promtool could not be run
  std::string output;
};

inline PromtoolResult PromtoolCheck(const std::string& exposition) {
  static std::atomic<int> counter{0};
  const std::filesystem::path input =
      std::filesystem::path(::testing::TempDir()) /
      ("metrics-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".txt");
  std::ofstream(input, std::ios::binary) << exposition;
  const std::string command =
      std::string(kPromtool) + " check metrics < '" + input.string() + "' 2>&1";
  PromtoolResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe != nullptr) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) result.output.append(buf, n);
    const int status = ::pclose(pipe);
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  }
  std::filesystem::remove(input);
  return result;
}

}  // namespace keycache::testing
