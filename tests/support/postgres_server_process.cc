#include "support/postgres_server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "support/free_port.h"

namespace keycache::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string BinDir(const PostgresServerOptions& o) {
  const char* env = std::getenv("KEYCACHE_PG_BINDIR");
  return env != nullptr && *env != '\0' ? env : o.bin_dir;
}

}  // namespace

PostgresServerProcess::PostgresServerProcess(PostgresServerOptions options)
    : options_(std::move(options)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "kc_pg_XXXXXX").string();
  if (::mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
  if (::geteuid() == 0) {
    // initdb and postgres refuse to run as root: hand them to the postgres system user.
    if (const passwd* pw = ::getpwnam("postgres"); pw != nullptr) {
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
      switch_user_ = true;
      if (!dir_.empty()) (void)::chown(dir_.c_str(), uid_, gid_);
    }
  }
}

PostgresServerProcess::~PostgresServerProcess() {
  Kill();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string PostgresServerProcess::log() const {
  std::ifstream in(dir_ / "postgres.log");
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string PostgresServerProcess::Url(const std::string& database) const {
  return "postgresql://" + options_.user + ":" + options_.password +
         "@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PostgresServerProcess::SocketUrl(const std::string& database) const {
  return "postgresql://" + options_.user + ":" + options_.password + "@/" + database +
         "?host=" + dir_.string() + "&port=" + std::to_string(port_);
}

pid_t PostgresServerProcess::Spawn(const std::vector<std::string>& args) {
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string log_path = (dir_ / "postgres.log").string();
  char lc_all[] = "LC_ALL=C";
  char tz[] = "TZ=UTC";
  char* envp[] = {lc_all, tz, nullptr};
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (switch_user_ &&
      (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0)) {
    ::_exit(126);
  }
  const int null_fd = ::open("/dev/null", O_RDONLY);
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (null_fd < 0 || log_fd < 0) ::_exit(126);
  ::dup2(null_fd, 0);
  ::dup2(log_fd, 1);
  ::dup2(log_fd, 2);
  ::setsid();  // a terminal's signals are not the server's
  ::execve(argv[0], argv.data(), envp);
  ::_exit(127);
}

::testing::AssertionResult PostgresServerProcess::RunInitdb() {
  const std::filesystem::path pwfile = dir_ / "pwfile";
  {
    std::ofstream out(pwfile);
    out << options_.password << "\n";
  }
  if (switch_user_) (void)::chown(pwfile.c_str(), uid_, gid_);
  const pid_t pid = Spawn({BinDir(options_) + "/initdb", "-D", (dir_ / "data").string(), "-U",
                           options_.user, "--pwfile=" + pwfile.string(), "-A", "scram-sha-256",
                           "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"});
  if (pid < 0) return ::testing::AssertionFailure() << "fork: " << std::strerror(errno);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return ::testing::AssertionFailure() << "initdb failed (status " << status << "):\n" << log();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult PostgresServerProcess::Start() {
  if (dir_.empty()) return ::testing::AssertionFailure() << "no temporary directory";
  if (running()) return ::testing::AssertionFailure() << "postgres is already running";
  if (!initialized_) {
    if (auto r = RunInitdb(); !r) return r;
    initialized_ = true;
  }
  if (port_ == 0) port_ = FreeLoopbackPort();
  if (port_ == 0) return ::testing::AssertionFailure() << "no free port";
  // Durability is not under test: skip the fsyncs that make a loaded machine slow.
  std::vector<std::string> args = {BinDir(options_) + "/postgres", "-D", (dir_ / "data").string(),
                                   "-p", std::to_string(port_)};
  for (const std::string& setting : std::vector<std::string>{
           "listen_addresses=127.0.0.1", "unix_socket_directories=" + dir_.string(), "fsync=off",
           "synchronous_commit=off", "full_page_writes=off", "max_connections=60",
           "shared_buffers=16MB"}) {
    args.insert(args.end(), {"-c", setting});
  }
  if (options_.tls) {
    // postgres wants its key owned by its own user and private.
    const std::filesystem::path cert = dir_ / "server.crt";
    const std::filesystem::path key = dir_ / "server.key";
    std::error_code ec;
    std::filesystem::copy_file(options_.tls->cert, cert,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (!ec) {
      std::filesystem::copy_file(options_.tls->key, key,
                                 std::filesystem::copy_options::overwrite_existing, ec);
    }
    if (ec) return ::testing::AssertionFailure() << "cannot copy the TLS files: " << ec.message();
    ::chmod(key.c_str(), 0600);
    if (switch_user_) {
      (void)::chown(cert.c_str(), uid_, gid_);
      (void)::chown(key.c_str(), uid_, gid_);
    }
    for (const std::string& setting : {std::string("ssl=on"), "ssl_cert_file=" + cert.string(),
                                       "ssl_key_file=" + key.string()}) {
      args.insert(args.end(), {"-c", setting});
    }
  }
  pid_ = Spawn(args);
  if (pid_ < 0) return ::testing::AssertionFailure() << "fork: " << std::strerror(errno);

  const std::string ping = "host=127.0.0.1 port=" + std::to_string(port_) +
                           " dbname=postgres connect_timeout=2 user=" + options_.user;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (PQping(ping.c_str()) != PQPING_OK) {
    if (!running()) {
      return ::testing::AssertionFailure() << "postgres exited during startup:\n" << log();
    }
    if (Clock::now() > deadline) {
      Kill();
      return ::testing::AssertionFailure() << "postgres did not accept connections in 30 s:\n"
                                           << log();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ::testing::AssertionSuccess();
}

bool PostgresServerProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void PostgresServerProcess::Reap(int signal) {
  if (!running()) return;
  ::kill(pid_, signal);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

void PostgresServerProcess::Stop() { Reap(SIGINT); }

void PostgresServerProcess::Kill() { Reap(SIGQUIT); }

::testing::AssertionResult PostgresServerProcess::Restart() {
  Stop();
  return Start();
}

::testing::AssertionResult PostgresServerProcess::CreateDatabase(const std::string& name) {
  PGconn* conn = PQconnectdb(Url().c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PGresult* r = PQexec(conn, ("CREATE DATABASE " + name).c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) error = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(conn);
  if (!error.empty()) return ::testing::AssertionFailure() << "CREATE DATABASE: " << error;
  return ::testing::AssertionSuccess();
}

}  // namespace keycache::testing
