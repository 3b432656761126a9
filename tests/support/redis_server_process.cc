#include "support/redis_server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "support/free_port.h"
#include "support/keycached_process.h"
#include "support/redis_config_rewrite.h"

extern char** environ;

namespace keycache::testing {

namespace {

using Clock = std::chrono::steady_clock;

bool Accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string RandomName() {
  std::random_device rd;
  std::ostringstream out;
  out << "SHUTDOWN_" << std::hex << rd() << rd();
  return out.str();
}

}  // namespace

RedisServerProcess::RedisServerProcess(RedisServerOptions options)
    : options_(std::move(options)), dir_(std::make_unique<TempDir>()) {}

RedisServerProcess::~RedisServerProcess() { Kill(); }

bool RedisServerProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    paused_ = false;
    return false;
  }
  return true;
}

::testing::AssertionResult RedisServerProcess::Start() {
  if (running()) return ::testing::AssertionFailure() << "redis-server is already running";
  if (port_ == 0) port_ = FreeLoopbackPort();
  if (port_ == 0) return ::testing::AssertionFailure() << "no free port";
  if (shutdown_name_.empty()) shutdown_name_ = RandomName();

  const auto dir = dir_->path();
  const auto conf = dir / "redis.conf";
  {
    std::ofstream out(conf);
    if (options_.base_config.empty()) {
      WriteGeneratedConfig(out);
    } else {
      out << ShippedConfig();
    }
  }

  std::vector<std::string> args = {"redis-server", conf.string()};
  if (options_.sentinel) args.push_back("--sentinel");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  const std::string out_path = (dir / "redis.stdout").string();
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, "redis-server", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return ::testing::AssertionFailure() << "cannot run redis-server: " << std::strerror(rc);
  }
  pid_ = pid;
  paused_ = false;

  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!Accepts(port_)) {
    if (!running()) {
      return ::testing::AssertionFailure() << "redis-server exited during startup:\n" << log();
    }
    if (Clock::now() > deadline) {
      Kill();
      return ::testing::AssertionFailure() << "redis-server did not listen in 10 s:\n" << log();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ::testing::AssertionSuccess();
}

void RedisServerProcess::WriteGeneratedConfig(std::ostream& out) const {
  const auto dir = dir_->path();
  out << "bind";
  for (const auto& address : options_.bind) out << " " << address;
  out << "\n"
      << "daemonize no\n"
      << "dir " << dir.string() << "\n"
      << "logfile " << (dir / "redis.log").string() << "\n";
  if (!options_.sentinel) {
    out << "save \"\"\n"
        << "appendonly no\n"
        << "maxmemory " << options_.maxmemory << "\n"
        << "maxmemory-policy " << options_.maxmemory_policy << "\n";
  }
  if (options_.tls) {
    out << "port 0\n"
        << "tls-port " << port_ << "\n"
        << "tls-cert-file " << options_.tls->cert << "\n"
        << "tls-key-file " << options_.tls->key << "\n";
    if (!options_.tls->ca.empty()) out << "tls-ca-cert-file " << options_.tls->ca << "\n";
    out << "tls-auth-clients " << (options_.tls->require_client_cert ? "yes" : "no") << "\n";
  } else {
    out << "port " << port_ << "\n";
  }
  if (!options_.password.empty()) out << "requirepass " << options_.password << "\n";
  if (!options_.acl_user.empty()) {
    out << "user " << options_.acl_user << " on >" << options_.acl_password << " ~* &* +@all\n";
  }
  for (const auto& u : options_.more_users) {
    out << "user " << u.name << " on >" << u.password << " " << u.rules << "\n";
  }
  if (options_.hardened && !options_.sentinel) {
    for (const char* cmd : {"FLUSHDB", "FLUSHALL", "KEYS", "DEBUG", "EVAL", "SCRIPT"}) {
      out << "rename-command " << cmd << " \"\"\n";
    }
    out << "rename-command CONFIG "
        << (options_.config_command.empty() ? "\"\"" : options_.config_command) << "\n";
    out << "rename-command SHUTDOWN " << shutdown_name_ << "\n";
  }
  for (const auto& line : options_.extra_config) out << line << "\n";
}

std::string RedisServerProcess::ShippedConfig() const {
  const std::filesystem::path base(options_.base_config);
  // Inlines `include /etc/redis/NAME` as the file NAME beside the base config or one folder up.
  std::string text;
  std::istringstream in(ReadTextFile(base.string()));
  std::string line;
  while (std::getline(in, line)) {
    if (DirectiveKey(line) != "include") {
      text += line + "\n";
      continue;
    }
    const auto name = std::filesystem::path(line.substr(line.find_last_of(" \t") + 1)).filename();
    auto included = base.parent_path() / name;
    if (!std::filesystem::exists(included)) included = base.parent_path().parent_path() / name;
    text += "# inlined by the test harness: " + line + " (" + included.string() + ")\n" +
            ReadTextFile(included.string()) + "# end of " + line + "\n";
  }
  const auto dir = dir_->path();
  std::string bind = "bind";
  for (const auto& address : options_.bind) bind += " " + address;
  std::vector<std::string> overrides = {bind, "daemonize no", "dir " + dir.string(),
                                        "logfile " + (dir / "redis.log").string()};
  if (options_.tls) {
    overrides.push_back("port 0");
    overrides.push_back("tls-port " + std::to_string(port_));
    overrides.push_back("tls-cert-file " + options_.tls->cert);
    overrides.push_back("tls-key-file " + options_.tls->key);
    if (!options_.tls->ca.empty()) overrides.push_back("tls-ca-cert-file " + options_.tls->ca);
    overrides.push_back(std::string("tls-auth-clients ") +
                        (options_.tls->require_client_cert ? "yes" : "no"));
  } else {
    overrides.push_back("port " + std::to_string(port_));
  }
  overrides.insert(overrides.end(), options_.extra_config.begin(), options_.extra_config.end());
  return RewriteRedisConfig(text, overrides);
}

void RedisServerProcess::Reap(int signal, std::chrono::milliseconds grace) {
  if (!running()) return;
  ::kill(pid_, signal);
  if (paused_) ::kill(pid_, SIGCONT);
  const auto deadline = Clock::now() + grace;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
  paused_ = false;
}

void RedisServerProcess::Kill() { Reap(SIGKILL, std::chrono::seconds(10)); }

void RedisServerProcess::Stop() { Reap(SIGTERM, std::chrono::seconds(10)); }

::testing::AssertionResult RedisServerProcess::Restart() {
  Stop();
  return Start();
}

void RedisServerProcess::Pause() {
  if (running() && ::kill(pid_, SIGSTOP) == 0) paused_ = true;
}

void RedisServerProcess::Resume() {
  if (running() && ::kill(pid_, SIGCONT) == 0) paused_ = false;
}

std::string RedisServerProcess::log() const {
  std::string text;
  for (const char* name : {"redis.stdout", "redis.log"}) {
    std::ifstream in(dir_->path() / name);
    std::ostringstream s;
    s << in.rdbuf();
    text += s.str();
  }
  return text;
}

std::filesystem::path RedisServerProcess::dir() const { return dir_->path(); }

RedisOptions RedisServerProcess::ClientOptions() const {
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = port_;
  o.password = options_.password;
  if (options_.tls) {
    o.tls.enabled = true;
    o.tls.ca = options_.tls->ca;
  }
  return o;
}

}  // namespace keycache::testing
