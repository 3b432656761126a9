// Network fault injection for tests: a private network namespace for the test process, named
// namespaces joined to it by a veth pair, and silent partitions (nftables DROP, no reject, no
// reset) inside them. Everything lives in namespaces the test creates and removes; no address
// outside them is ever configured. Requires root, `ip` (iproute2) and `nft` (nftables).
//
// Topology:  test process (own netns, lo up, veth end A = 10.250.X.(4Y+1)/30)
//                 <-- veth pair -->  named netns kc-<pid>-<hex> (lo up, veth end B = ...(4Y+2))
// Not thread-safe per object; RunCommand may be called from any thread.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace keycache::testing {

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed; -1 when it could not run
  bool timed_out = false;
  std::string output;  // stdout and stderr together
};

// Runs `argv` (argv[0] looked up in PATH, no shell) to completion or until `timeout` (then
// SIGKILL). Safe to call while other threads run.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Moves the calling process into a fresh network namespace with `lo` up, so that the test's
// servers, veth ends and firewall rules are invisible to the machine and vanish with the test.
// Call from main() before any thread starts (unshare applies to the calling thread; threads
// created later inherit it). Returns "" on success, else why it failed; the result is kept for
// NetworkIsolationError().
std::string IsolateNetwork();
// "" when IsolateNetwork() succeeded in this process; otherwise the reason (or that it was
// never called). Tests that need namespaces FAIL with this message; they never skip.
std::string NetworkIsolationError();

// Deletes the named namespaces kc-<pid>-* left behind by test processes that no longer run
// (a crashed run); namespaces of live processes are left alone.
void RemoveStaleNamespaces();

// One named network namespace joined to the test's namespace by a veth pair with private /30
// addresses. The destructor deletes the namespace (and with it the pair and any rules).
class NetworkNamespace {
 public:
  NetworkNamespace() = default;
  ~NetworkNamespace();
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;

  // Removes stale namespaces, then creates this one. Fails (with the commands' output) unless
  // the test process is isolated (IsolateNetwork), so that the veth end never lands in the
  // machine's own namespace.
  ::testing::AssertionResult Create();

  const std::string& name() const { return name_; }
  // /run/netns/<name>: open it and setns(CLONE_NEWNET) to enter.
  std::string path() const { return "/run/netns/" + name_; }
  const std::string& outer_address() const { return outer_address_; }  // the test's veth end
  const std::string& inner_address() const { return inner_address_; }  // this namespace's end

  // Runs `argv` inside the namespace (`ip netns exec <name> argv...`).
  CommandResult Exec(const std::vector<std::string>& argv,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Silent cut: inside this namespace, DROP every TCP packet to `address`:`port` and from it.
  // Established connections see nothing (no RST, no ICMP): they stall until their own timeouts.
  ::testing::AssertionResult Cut(const std::string& address, std::uint16_t port);
  // Removes the cut (idempotent). Stalled connections resume by retransmission.
  ::testing::AssertionResult Heal();
  bool cut() const { return cut_; }

 private:
  std::string name_;
  std::string outer_if_;
  std::string outer_address_, inner_address_;
  bool cut_ = false;
};

}  // namespace keycache::testing
