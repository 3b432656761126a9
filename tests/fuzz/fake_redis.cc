#include "fuzz/fake_redis.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <thread>
#include <utility>

#include "fuzz/fuzz_check.h"
#include "redis/resp_parser.h"

namespace keycache::fuzz {
namespace {

std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;  // libFuzzer's SIGALRM watchdog
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::string DefaultReply(const std::vector<std::string>& command) {
  const std::string name = command.empty() ? "" : Upper(command[0]);
  if (name == "PING") return "+PONG\r\n";
  if (name == "SET" || name == "CLIENT" || name == "AUTH" || name == "SELECT") return "+OK\r\n";
  if (name == "INCR" || name == "INCRBY" || name == "PEXPIRE") return ":1\r\n";
  if (name == "UNLINK" || name == "PUBLISH") return ":0\r\n";
  if (name == "MEMORY") return ":64\r\n";
  if (name == "SCAN") return "*2\r\n$1\r\n0\r\n*0\r\n";
  if (name == "MGET") {
    std::string out = "*" + std::to_string(command.size() - 1) + "\r\n";
    for (std::size_t i = 1; i < command.size(); ++i) out += "$-1\r\n";
    return out;
  }
  return "-ERR unknown command '" + name + "'\r\n";
}

FakeRedis::FakeRedis(const EntrySealer& sealer) : sealer_(sealer) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(listener_ >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  FUZZ_CHECK(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  FUZZ_CHECK(::listen(listener_, 64) == 0);
  socklen_t len = sizeof addr;
  FUZZ_CHECK(::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  port_ = ntohs(addr.sin_port);
  std::thread([this] { AcceptLoop(); }).detach();
}

void FakeRedis::SetScript(Script script) {
  std::lock_guard lock(mu_);
  ++epoch_;
  script_ = std::move(script);
  handshake_taken_ = false;
  pushes_taken_ = false;
  servable_ = 0;
}

void FakeRedis::AcceptLoop() {
  for (;;) {
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::uint64_t epoch;
    {
      std::lock_guard lock(mu_);
      epoch = epoch_;
    }
    std::thread([this, fd, epoch] { Serve(fd, epoch); }).detach();
  }
}

std::optional<Action> FakeRedis::Take(std::uint64_t epoch, bool handshake) {
  std::lock_guard lock(mu_);
  if (epoch != epoch_ || script_.replies.empty()) return std::nullopt;
  if (handshake) {
    if (!script_.fuzz_handshake || handshake_taken_) return std::nullopt;
    handshake_taken_ = true;
  }
  Action a = std::move(script_.replies.front());
  script_.replies.pop_front();
  return a;
}

std::optional<std::vector<Action>> FakeRedis::TakePushes(std::uint64_t epoch) {
  std::lock_guard lock(mu_);
  if (epoch != epoch_ || pushes_taken_) return std::nullopt;
  pushes_taken_ = true;
  return std::move(script_.pushes);
}

std::string FakeRedis::Render(const Action& a, const std::vector<std::string>& command) {
  if (a.kind != Action::Kind::kSealedFacts && a.kind != Action::Kind::kSealedBlob) return a.bytes;
  const bool mget = command.size() >= 3 && Upper(command[0]) == "MGET";
  const std::string name = (mget ? command[2] : "") + (a.wrong_name ? "!" : "");
  std::string entry;
  if (a.kind == Action::Kind::kSealedFacts) {
    auto facts = std::make_shared<KeyFacts>();
    facts->owner_id = a.body;
    facts->scopes = {"fuzz:read"};
    entry = sealer_.SealFacts(name, a.sealed_under,
                              a.missing ? FactsAnswer::Absent() : FactsAnswer::Found(facts));
  } else {
    entry = sealer_.SealBlob(name, a.sealed_under, a.body);
  }
  if (mget && !a.wrong_name && a.sealed_under == a.counter) ++servable_;
  return "*2\r\n" + Bulk(std::to_string(a.counter)) + Bulk(entry);
}

void FakeRedis::Serve(int fd, std::uint64_t epoch) {
  RespParser parser;  // commands are RESP arrays of bulk strings, as replies can be
  Role role = Role::kUnknown;
  bool silent = false;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;  // libFuzzer's SIGALRM watchdog
    if (n <= 0) break;
    parser.Feed(std::string_view(buf, static_cast<std::size_t>(n)));
    bool open = true;
    while (open) {
      auto next = parser.Next();
      if (!next || !*next) {
        open = next.has_value();
        break;
      }
      std::vector<std::string> command;
      for (const RedisReply& arg : (*next)->elements) command.push_back(arg.str);
      const std::string name = command.empty() ? "" : Upper(command[0]);
      const bool handshake = role == Role::kUnknown;
      if (handshake) {
        const bool sub = name == "CLIENT" && command.size() >= 3 && command[2] == "fuzz-sub";
        role = sub ? Role::kSubscriber : Role::kClient;
      }
      if (silent) continue;
      std::string out;
      if (role == Role::kSubscriber) {
        if (name == "SUBSCRIBE") {
          const std::string channel = command.size() >= 2 ? command[1] : "";
          const auto pushes = TakePushes(epoch).value_or(std::vector<Action>());
          if (pushes.empty()) out = "*3\r\n" + Bulk("subscribe") + Bulk(channel) + ":1\r\n";
          bool close = false;
          for (const Action& a : pushes) {
            close = a.kind == Action::Kind::kClose;
            if (close) break;
            out += a.bytes;
          }
          if (close) {
            SendAll(fd, out);
            open = false;
            out.clear();
          } else {
            out += "*3\r\n" + Bulk("message") + Bulk(channel) + Bulk(kSentinel);
          }
        } else if (name == "PING") {
          out = "*2\r\n" + Bulk("pong") + Bulk("");
        } else {
          out = DefaultReply(command);
        }
      } else {
        const std::optional<Action> action = Take(epoch, handshake);
        if (!action) {
          out = DefaultReply(command);
        } else if (action->kind == Action::Kind::kClose) {
          open = false;
        } else if (action->kind == Action::Kind::kSilence) {
          silent = true;
        } else {
          out = Render(*action, command);
        }
      }
      if (open && !out.empty() && !SendAll(fd, out)) open = false;
    }
    if (!open) break;
  }
  ::close(fd);
}

}  // namespace keycache::fuzz
