// keycached under systemd's notification protocol (Type=notify, WatchdogSec=) without systemd:
// the test plays the service manager with a unix datagram socket named by NOTIFY_SOCKET.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "integration/integration_util.h"

namespace keycache::testing {
namespace {

class NotifySocket {
 public:
  explicit NotifySocket(std::filesystem::path path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    bound_ = fd_ >= 0 && path_.string().size() < sizeof(addr.sun_path) &&
             ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool bound() const { return bound_; }
  const std::filesystem::path& path() const { return path_; }

  // The next datagram, or nullopt when none arrives within `bound`.
  std::optional<std::string> Next(std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(bound.count())) != 1) return std::nullopt;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
  }

  // Datagrams until one contains `what` (returned), or nullopt after `max` others.
  std::optional<std::string> Until(std::string_view what, int max = 100) {
    for (int i = 0; i < max; ++i) {
      auto m = Next();
      if (!m) return std::nullopt;
      if (m->find(what) != std::string::npos) return m;
    }
    return std::nullopt;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(IntegSystemd, ReadyAfterListeningWatchdogKeepAlivesAndStopping) {
  TempDir dir;
  NotifySocket notify(dir.path() / "notify.sock");
  ASSERT_TRUE(notify.bound()) << std::strerror(errno);
  // WatchdogSec=400ms: keep-alives every 200 ms.
  KeycachedProcess server(
      {{{"NOTIFY_SOCKET", notify.path().string()}, {"WATCHDOG_USEC", "400000"}}, std::nullopt});
  ASSERT_TRUE(server.Start());

  // The first message is READY=1, and it names the port the server listens on (known only once
  // it is bound), which answers.
  const auto ready = notify.Next();
  ASSERT_TRUE(ready.has_value()) << server.log();
  EXPECT_NE(ready->find("READY=1"), std::string::npos) << *ready;
  EXPECT_NE(ready->find("listening on port " + std::to_string(server.port())), std::string::npos)
      << *ready;
  EXPECT_EQ(ApiClient(server.port()).Send(http::verb::get, "/health/live").status, 200u);

  // Keep-alives repeat.
  for (int i = 0; i < 3; ++i) {
    const auto beat = notify.Next();
    ASSERT_TRUE(beat.has_value()) << "keep-alive " << i << " missing; log:\n" << server.log();
    EXPECT_EQ(*beat, "WATCHDOG=1");
  }

  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  EXPECT_TRUE(notify.Until("STOPPING=1").has_value()) << server.log();
  EXPECT_TRUE(PollUntil([&] { return !server.running(); }, 30s)) << server.log();
  EXPECT_EQ(server.last_exit(), 0) << server.log();
}

TEST(IntegSystemd, NoWatchdogWithoutWatchdogUsec) {
  TempDir dir;
  NotifySocket notify(dir.path() / "notify.sock");
  ASSERT_TRUE(notify.bound()) << std::strerror(errno);
  KeycachedProcess server({{{"NOTIFY_SOCKET", notify.path().string()}}, std::nullopt});
  ASSERT_TRUE(server.Start());
  const auto ready = notify.Next();
  ASSERT_TRUE(ready.has_value()) << server.log();
  EXPECT_NE(ready->find("READY=1"), std::string::npos) << *ready;
  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  // The next message is STOPPING=1: no keep-alive came in between.
  const auto next = notify.Next();
  ASSERT_TRUE(next.has_value()) << server.log();
  EXPECT_NE(next->find("STOPPING=1"), std::string::npos) << *next;
  EXPECT_TRUE(PollUntil([&] { return !server.running(); }, 30s)) << server.log();
  EXPECT_EQ(server.last_exit(), 0) << server.log();
}

}  // namespace
}  // namespace keycache::testing
