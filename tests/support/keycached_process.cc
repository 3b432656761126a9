#include "support/keycached_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "http/http_client.h"

extern char** environ;

namespace keycache::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Passed through from the test process so that a sanitizer build of keycached behaves (and
// reports) like the tests themselves.
constexpr const char* kPassThrough[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"};

// argv/envp storage built before fork(): the child may only make async-signal-safe calls.
struct ExecImage {
  std::vector<std::string> strings_argv, strings_env;
  std::vector<char*> argv, envp;

  ExecImage(const std::vector<std::string>& args, const EnvVars& env) {
    strings_argv.push_back(KeycachedBinary());
    strings_argv.insert(strings_argv.end(), args.begin(), args.end());
    for (const auto& [name, value] : env) {
      if (!value.empty()) strings_env.push_back(name + "=" + value);
    }
    for (const char* name : kPassThrough) {
      const char* value = std::getenv(name);
      if (value != nullptr && env.find(name) == env.end()) {
        strings_env.push_back(std::string(name) + "=" + value);
      }
    }
    for (auto& s : strings_argv) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : strings_env) envp.push_back(s.data());
    envp.push_back(nullptr);
  }
};

// In the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void ExecChild(const ExecImage& image, const char* workdir, int in_fd, int out_fd,
                            int err_fd, pid_t parent, int netns_fd = -1) {
  // Die with the test: a crashed or killed test must not leave a server behind.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(126);
  if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) {
    constexpr char kMsg[] = "keycached test harness: setns failed\n";
    (void)!::write(err_fd, kMsg, sizeof kMsg - 1);
    ::_exit(126);
  }
  if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) ::_exit(126);
  // Sockets and files of the test process (keep-alive client connections) stay with the test.
  if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0) {
    for (int fd = 3; fd < 4096; ++fd) ::close(fd);
  }
  if (::chdir(workdir) != 0) {
    constexpr char kMsg[] = "keycached test harness: chdir failed\n";
    (void)!::write(2, kMsg, sizeof kMsg - 1);
    ::_exit(126);
  }
  ::execve(image.argv[0], image.argv.data(), image.envp.data());
  constexpr char kMsg[] = "keycached test harness: execve failed\n";
  (void)!::write(2, kMsg, sizeof kMsg - 1);
  ::_exit(127);
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::string KeycachedBinary() {
  const char* bin = std::getenv("KEYCACHED_BIN");
  if (bin == nullptr || *bin == '\0') return {};
  // Absolute: the child changes directory before it execs.
  std::error_code ec;
  const std::filesystem::path path = std::filesystem::absolute(bin, ec);
  return ec ? std::string(bin) : path.string();
}

// Besides what the header lists, KEYCACHE_DRAIN=0: a test's SIGTERM stops at once (the drain
// tests set their own).
EnvVars DefaultServerEnv() {
  return {{"PORT", "0"},
          {"HOST", "127.0.0.1"},
          {"KEYCACHE_THREADS", "2"},
          {"LOG_LEVEL", "info"},
          {"KEYCACHE_DRAIN", "0"}};
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "keycache-it-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed: " << std::strerror(errno);
    return;
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

RunResult RunKeycached(const std::vector<std::string>& args, const EnvVars& env,
                       const std::filesystem::path& workdir, std::chrono::milliseconds timeout) {
  RunResult result;
  if (KeycachedBinary().empty()) {
    result.err = "KEYCACHED_BIN is not set";
    return result;
  }
  const ExecImage image(args, env);
  const std::string dir = workdir.string();
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return result;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return result;
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) ExecChild(image, dir.c_str(), null_fd, out_pipe[1], err_pipe[1], parent);
  ::close(null_fd);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    result.err = std::string("fork failed: ") + std::strerror(errno);
    return result;
  }

  const auto deadline = Clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  while (open_count > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms && !result.timed_out) {
      // Past the deadline: kill it; its pipes then close and the loop drains them.
      result.timed_out = true;
      ::kill(pid, SIGKILL);
    }
    const int ready = ::poll(fds, 2, result.timed_out ? 1000 : static_cast<int>(left.count()) + 1);
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[4096];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  int status = 0;
  if (!result.timed_out) {
    // Output closed; the process is exiting. Still bound the wait.
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        result.timed_out = true;
        ::kill(pid, SIGKILL);
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
  }
  if (result.timed_out) ::waitpid(pid, &status, 0);
  result.exit_code = DecodeStatus(status);
  return result;
}

KeycachedProcess::KeycachedProcess(KeycachedOptions options)
    : env_(DefaultServerEnv()),
      netns_(std::move(options.netns)),
      address_(std::move(options.address)) {
  for (auto& [name, value] : options.env) env_[name] = value;
  workdir_ = temp_.path() / "work";
  std::error_code ec;
  std::filesystem::create_directory(workdir_, ec);
  if (ec) ADD_FAILURE() << "cannot create " << workdir_ << ": " << ec.message();
  if (options.dotenv) std::ofstream(workdir_ / ".env", std::ios::binary) << *options.dotenv;
}

KeycachedProcess::~KeycachedProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

std::filesystem::path KeycachedProcess::LogPath() const {
  return temp_.path() / ("keycached-" + std::to_string(starts_) + ".log");
}

std::string KeycachedProcess::log() const { return ReadFile(LogPath()); }

std::filesystem::path KeycachedProcess::data_dir() const {
  auto it = env_.find("KEYCACHE_DATA_DIR");
  if (it == env_.end() || it->second.empty()) return workdir_ / "var";
  const std::filesystem::path dir = it->second;
  return dir.is_absolute() ? dir : workdir_ / dir;
}

std::string KeycachedProcess::admin_token() const {
  auto it = env_.find("ADMIN_TOKEN");
  if (it != env_.end() && !it->second.empty()) return it->second;
  std::string token = ReadFile(data_dir() / "admin-token");
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  return token;
}

std::string KeycachedProcess::pepper() const {
  auto it = env_.find("KEYCACHE_PEPPER");
  if (it != env_.end() && !it->second.empty()) return it->second;
  std::string pepper = ReadFile(data_dir() / "pepper");
  while (!pepper.empty() && std::isspace(static_cast<unsigned char>(pepper.back()))) {
    pepper.pop_back();
  }
  return pepper;
}

std::optional<std::uint16_t> KeycachedProcess::PortFromLog() const {
  std::istringstream lines(log());
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find(" listening") == std::string::npos) continue;
    const std::size_t at = line.find(" port=");
    if (at == std::string::npos) continue;
    const unsigned long port = std::strtoul(line.c_str() + at + 6, nullptr, 10);
    if (port > 0 && port <= 65535) return static_cast<std::uint16_t>(port);
  }
  return std::nullopt;
}

bool KeycachedProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    last_exit_ = DecodeStatus(status);
    return false;
  }
  return true;
}

::testing::AssertionResult KeycachedProcess::Start(std::chrono::milliseconds timeout) {
  if (pid_ > 0) return ::testing::AssertionFailure() << "keycached is already running";
  if (KeycachedBinary().empty()) {
    return ::testing::AssertionFailure() << "KEYCACHED_BIN is not set (run through ctest)";
  }
  ++starts_;
  port_ = 0;
  const ExecImage image({"serve"}, env_);
  const std::string dir = workdir_.string();
  const std::string log_path = LogPath().string();
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    return ::testing::AssertionFailure()
           << "cannot open " << log_path << ": " << std::strerror(errno);
  }
  const int netns_fd = netns_.empty() ? -1 : ::open(netns_.c_str(), O_RDONLY | O_CLOEXEC);
  if (!netns_.empty() && netns_fd < 0) {
    ::close(log_fd);
    ::close(null_fd);
    return ::testing::AssertionFailure()
           << "cannot open network namespace " << netns_ << ": " << std::strerror(errno);
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) ExecChild(image, dir.c_str(), null_fd, log_fd, log_fd, parent, netns_fd);
  ::close(log_fd);
  ::close(null_fd);
  if (netns_fd >= 0) ::close(netns_fd);
  if (pid < 0) return ::testing::AssertionFailure() << "fork failed: " << std::strerror(errno);
  pid_ = pid;

  auto fail = [this](const std::string& why) {
    const int code = pid_ > 0 ? (::kill(pid_, SIGKILL), Reap(5s)) : last_exit_;
    return ::testing::AssertionFailure() << why << " (exit status " << code << "); log:\n" << log();
  };
  const auto deadline = Clock::now() + timeout;
  std::optional<std::uint16_t> port;
  while (!(port = PortFromLog())) {
    if (!running()) return fail("keycached exited before listening");
    if (Clock::now() > deadline) return fail("no \"listening ... port=N\" line in time");
    std::this_thread::sleep_for(10ms);
  }
  port_ = *port;
  HttpClient client(address_, port_);
  std::string last = "no answer";
  for (;;) {
    auto res = client.Send(boost::beast::http::verb::get, "/health/ready", {}, {}, 2s);
    if (res && res->status == 200) return ::testing::AssertionSuccess();
    last = res ? std::to_string(res->status) + " " + res->body : res.error().message();
    if (!running()) return fail("keycached exited before it was ready");
    if (Clock::now() > deadline) return fail("GET /health/ready never answered 200: " + last);
    std::this_thread::sleep_for(10ms);
  }
}

int KeycachedProcess::Reap(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (r < 0) {
      pid_ = -1;
      return -1;
    }
    if (Clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(5ms);
  }
  pid_ = -1;
  last_exit_ = DecodeStatus(status);
  return last_exit_;
}

int KeycachedProcess::Stop(std::chrono::milliseconds timeout, int signo) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signo);
  return Reap(timeout);
}

}  // namespace keycache::testing
