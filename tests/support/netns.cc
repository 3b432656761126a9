#include "support/netns.h"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

extern char** environ;

namespace keycache::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string& IsolationState() {
  static std::string state = "IsolateNetwork() was not called before the test started";
  return state;
}

std::string Hex(std::uint32_t v, int digits) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%0*x", digits, v);
  return std::string(buf).substr(0, static_cast<std::size_t>(digits));
}

std::string Joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

::testing::AssertionResult Ran(const std::vector<std::string>& argv, const CommandResult& r) {
  if (r.exit_code == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "`" << Joined(argv) << "` failed (exit " << r.exit_code
                                       << (r.timed_out ? ", timed out" : "") << "): " << r.output;
}

::testing::AssertionResult Run(const std::vector<std::string>& argv) {
  return Ran(argv, RunCommand(argv));
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CommandResult result;
  if (argv.empty()) return result;
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    result.output = std::string("pipe2: ") + std::strerror(errno);
    return result;
  }
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    result.output = "cannot run " + argv[0] + ": " + std::strerror(rc);
    return result;
  }
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n > 0) {
      result.output.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.exit_code = 128 + WTERMSIG(status);
  return result;
}

std::string IsolateNetwork() {
  std::string& state = IsolationState();
  if (::unshare(CLONE_NEWNET) != 0) {
    state = std::string("unshare(CLONE_NEWNET) failed: ") + std::strerror(errno) +
            " (these tests run as root to make network namespaces; CI does)";
    return state;
  }
  // A new namespace has only `lo`, and it is down.
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (fd < 0 || ::ioctl(fd, SIOCGIFFLAGS, &ifr) != 0 ||
      (ifr.ifr_flags |= IFF_UP | IFF_RUNNING, ::ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)) {
    state = std::string("cannot bring lo up in the new namespace: ") + std::strerror(errno);
  } else {
    state.clear();
  }
  if (fd >= 0) ::close(fd);
  return state;
}

std::string NetworkIsolationError() { return IsolationState(); }

void RemoveStaleNamespaces() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("kc-", 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + 3, nullptr, 10);
    if (pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // still running
    RunCommand({"ip", "netns", "del", name});
  }
}

NetworkNamespace::~NetworkNamespace() {
  if (name_.empty()) return;
  if (!outer_if_.empty()) RunCommand({"ip", "link", "del", outer_if_});  // both ends go
  RunCommand({"ip", "netns", "del", name_});
}

::testing::AssertionResult NetworkNamespace::Create() {
  if (!name_.empty()) return ::testing::AssertionFailure() << "namespace already created";
  if (const std::string why = NetworkIsolationError(); !why.empty()) {
    return ::testing::AssertionFailure()
           << "cannot make a network namespace for this test: the test process is not in a "
              "private network namespace: "
           << why;
  }
  RemoveStaleNamespaces();
  std::random_device rd;
  const std::string name = "kc-" + std::to_string(::getpid()) + "-" + Hex(rd(), 6);
  if (auto r = Run({"ip", "netns", "add", name}); !r) return r;
  name_ = name;
  if (auto r = Run({"ip", "-n", name_, "link", "set", "lo", "up"}); !r) return r;

  const std::string tag = Hex(rd(), 6);
  const std::string outer = "kc" + tag + "a", inner = "kc" + tag + "b";
  if (auto r =
          Run({"ip", "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", name_});
      !r) {
    return r;
  }
  outer_if_ = outer;
  const unsigned block = rd() % 256, base = (rd() % 64) * 4;
  const std::string net = "10.250." + std::to_string(block) + ".";
  outer_address_ = net + std::to_string(base + 1);
  inner_address_ = net + std::to_string(base + 2);
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"ip", "addr", "add", outer_address_ + "/30", "dev", outer},
           {"ip", "link", "set", outer, "up"},
           {"ip", "-n", name_, "addr", "add", inner_address_ + "/30", "dev", inner},
           {"ip", "-n", name_, "link", "set", inner, "up"}}) {
    if (auto r = Run(argv); !r) return r;
  }
  return ::testing::AssertionSuccess();
}

CommandResult NetworkNamespace::Exec(const std::vector<std::string>& argv,
                                     std::chrono::milliseconds timeout) {
  std::vector<std::string> full = {"ip", "netns", "exec", name_};
  full.insert(full.end(), argv.begin(), argv.end());
  return RunCommand(full, timeout);
}

::testing::AssertionResult NetworkNamespace::Cut(const std::string& address, std::uint16_t port) {
  if (name_.empty()) return ::testing::AssertionFailure() << "no namespace";
  if (cut_) return ::testing::AssertionFailure() << "already cut";
  const std::string p = std::to_string(port);
  // One nft batch: the table appears with both chains and rules at once.
  const std::string rules =
      "add table inet kc_cut; "
      "add chain inet kc_cut out { type filter hook output priority 0; policy accept; }; "
      "add rule inet kc_cut out ip daddr " +
      address + " tcp dport " + p +
      " drop; "
      "add chain inet kc_cut in { type filter hook input priority 0; policy accept; }; "
      "add rule inet kc_cut in ip saddr " +
      address + " tcp sport " + p + " drop";
  const std::vector<std::string> argv = {"nft", rules};
  if (auto r = Ran(argv, Exec(argv)); !r) return r;
  cut_ = true;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult NetworkNamespace::Heal() {
  if (!cut_) return ::testing::AssertionSuccess();
  const std::vector<std::string> argv = {"nft", "delete table inet kc_cut"};
  if (auto r = Ran(argv, Exec(argv)); !r) return r;
  cut_ = false;
  return ::testing::AssertionSuccess();
}

}  // namespace keycache::testing
