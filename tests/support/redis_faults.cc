#include "support/redis_faults.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "redis/redis_request.h"
#include "redis/resp_parser.h"
#include "support/free_port.h"

namespace keycache::testing {
namespace {

using Clock = std::chrono::steady_clock;

int MillisLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

std::string Describe(const Result<RedisReply>& r) {
  if (!r) return "no reply (" + r.error().message() + ")";
  switch (r->type) {
    case RedisReply::Type::kNil:
      return "(nil)";
    case RedisReply::Type::kInteger:
      return "(integer) " + std::to_string(r->integer);
    case RedisReply::Type::kArray:
      return "(array of " + std::to_string(r->elements.size()) + ")";
    case RedisReply::Type::kError:
      return "(error) " + r->str;
    default:
      return r->str;
  }
}

}  // namespace

std::string ErrorPrefix(const RedisReply& reply) {
  if (!reply.is_error()) return {};
  return reply.str.substr(0, reply.str.find(' '));
}

RawRedis::RawRedis() : parser_(std::make_unique<RespParser>()) {}

RawRedis::~RawRedis() { Close(); }

void RawRedis::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  parser_ = std::make_unique<RespParser>();
}

Result<void> RawRedis::Connect(std::uint16_t port, const std::string& user,
                               const std::string& password, std::chrono::milliseconds timeout) {
  Close();
  timeout_ = timeout;
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) return make_error_code(Errc::kUnavailable);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      Close();
      return make_error_code(Errc::kUnavailable);
    }
    pollfd p{fd_, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1 ||
        ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      Close();
      return make_error_code(Errc::kUnavailable);
    }
  }
  if (password.empty()) return {};
  std::vector<std::string> auth = {"AUTH"};
  if (!user.empty()) auth.push_back(user);
  auth.push_back(password);
  auto reply = Command(auth);
  if (!reply) return reply.error();
  if (reply->is_error()) {
    Close();
    return make_error_code(Errc::kBadInput);
  }
  return {};
}

Result<void> RawRedis::Send(const std::vector<std::string>& args) {
  if (fd_ < 0) return make_error_code(Errc::kUnavailable);
  std::vector<std::string_view> views(args.begin(), args.end());
  RedisRequest request;
  request.Push(std::span<const std::string_view>(views));
  const std::string& bytes = request.payload();
  const auto deadline = Clock::now() + timeout_;
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return make_error_code(Errc::kUnavailable);
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, MillisLeft(deadline)) == 0) return make_error_code(Errc::kTimeout);
  }
  return {};
}

Result<RedisReply> RawRedis::Read() {
  if (fd_ < 0) return make_error_code(Errc::kUnavailable);
  const auto deadline = Clock::now() + timeout_;
  for (;;) {
    auto next = parser_->Next();
    if (!next) return next.error();
    if (*next) return std::move(**next);
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, MillisLeft(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return make_error_code(Errc::kTimeout);
    char buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) return make_error_code(Errc::kUnavailable);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return make_error_code(Errc::kUnavailable);
    }
    parser_->Feed(std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

Result<RedisReply> RawRedis::Command(const std::vector<std::string>& args) {
  if (auto sent = Send(args); !sent) return sent.error();
  return Read();
}

bool RawRedis::ClosedByPeer() {
  if (fd_ < 0) return true;
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 50) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR | POLLRDHUP)) return true;
  char c;
  return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

Result<RedisReply> RedisCommand(const RedisServerProcess& server,
                                const std::vector<std::string>& args,
                                std::chrono::milliseconds timeout) {
  RawRedis conn;
  if (auto c = conn.Connect(server.port(), {}, server.options().password, timeout); !c) {
    return c.error();
  }
  return conn.Command(args);
}

::testing::AssertionResult RedisFaults::Expect(const std::vector<std::string>& args,
                                               long long* integer) {
  auto reply = RedisCommand(server_, args);
  if (reply && !reply->is_error()) {
    if (integer != nullptr) *integer = reply->integer;
    return ::testing::AssertionSuccess();
  }
  std::string command;
  for (const auto& a : args) command += (command.empty() ? "" : " ") + a;
  return ::testing::AssertionFailure() << "Redis `" << command << "`: " << Describe(reply);
}

::testing::AssertionResult RedisFaults::MakeReadOnly() {
  const std::uint16_t port = FreeLoopbackPort();
  if (port == 0) return ::testing::AssertionFailure() << "no closed port found";
  return Expect({"REPLICAOF", "127.0.0.1", std::to_string(port)});
}

::testing::AssertionResult RedisFaults::MakeWritable() {
  return Expect({"REPLICAOF", "NO", "ONE"});
}

::testing::AssertionResult RedisFaults::StartOom() {
  const std::string& config = server_.options().config_command;
  if (config.empty()) {
    return ::testing::AssertionFailure()
           << "StartOom needs RedisServerOptions::config_command (CONFIG is disabled)";
  }
  if (auto r = Expect({config, "SET", "maxmemory-policy", "noeviction"}); !r) return r;
  return Expect({config, "SET", "maxmemory", "1"});
}

::testing::AssertionResult RedisFaults::EndOom() {
  const RedisServerOptions& o = server_.options();
  if (o.config_command.empty()) {
    return ::testing::AssertionFailure() << "EndOom needs RedisServerOptions::config_command";
  }
  if (auto r = Expect({o.config_command, "SET", "maxmemory", o.maxmemory}); !r) return r;
  return Expect({o.config_command, "SET", "maxmemory-policy", o.maxmemory_policy});
}

::testing::AssertionResult RedisFaults::KillNormalClients(long long* killed) {
  return Expect({"CLIENT", "KILL", "TYPE", "normal"}, killed);
}

::testing::AssertionResult RedisFaults::KillPubSubClients(long long* killed) {
  return Expect({"CLIENT", "KILL", "TYPE", "pubsub"}, killed);
}

::testing::AssertionResult RedisFaults::DenyCommand(const std::string& user,
                                                    const std::string& command) {
  return Expect({"ACL", "SETUSER", user, "-" + command});
}

::testing::AssertionResult RedisFaults::AllowCommand(const std::string& user,
                                                     const std::string& command) {
  return Expect({"ACL", "SETUSER", user, "+" + command});
}

RedisServerOptions::AclUser RedisFaults::UserWithout(std::string name, std::string password,
                                                     const std::string& command) {
  return {std::move(name), std::move(password), "~* &* +@all -" + command};
}

}  // namespace keycache::testing
