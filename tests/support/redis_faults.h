// Fault injection into a running RedisServerProcess (plain TCP, not TLS): the ways a shared
// Redis fails under keycache besides dying or stalling (RedisServerProcess::Kill/Restart,
// Pause/Resume): read-only, out of memory, its clients' connections killed, a user losing a
// command. RawRedis is a blocking RESP connection of the test's own, independent of the client
// under test. Neither is thread-safe: one thread drives an object.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "redis/resp_reply.h"
#include "support/redis_server_process.h"
#include "util/error.h"

namespace keycache {
class RespParser;
}  // namespace keycache

namespace keycache::testing {

// One blocking connection to 127.0.0.1:<port>; every call is bounded by `timeout`.
class RawRedis {
 public:
  RawRedis();
  ~RawRedis();
  RawRedis(const RawRedis&) = delete;
  RawRedis& operator=(const RawRedis&) = delete;

  // Connects and authenticates (AUTH password, or AUTH user password when `user` is set).
  // Errc::kUnavailable when it cannot connect, kTimeout, kBadInput when AUTH is refused.
  Result<void> Connect(std::uint16_t port, const std::string& user = {},
                       const std::string& password = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(2));
  // Sends one command and reads its reply (a Redis error is a kError reply, not a failure).
  Result<RedisReply> Command(const std::vector<std::string>& args);
  // Sends without reading (SUBSCRIBE's confirmations are read with Read()).
  Result<void> Send(const std::vector<std::string>& args);
  Result<RedisReply> Read();
  // True when the server has closed this connection (checks without blocking for long).
  bool ClosedByPeer();
  void Close();

 private:
  int fd_ = -1;
  std::chrono::milliseconds timeout_{2000};
  std::unique_ptr<RespParser> parser_;  // holds bytes received but not yet parsed
};

// One command on a fresh connection authenticated as the server's default user.
Result<RedisReply> RedisCommand(const RedisServerProcess& server,
                                const std::vector<std::string>& args,
                                std::chrono::milliseconds timeout = std::chrono::seconds(2));

class RedisFaults {
 public:
  // `server` must outlive this object.
  explicit RedisFaults(RedisServerProcess& server) : server_(server) {}

  // Read-only: REPLICAOF 127.0.0.1 <a port nothing listens on>. Writes then answer
  // "-READONLY ..."; reads and PUBLISH still work; the data stays. MakeWritable: REPLICAOF NO
  // ONE.
  ::testing::AssertionResult MakeReadOnly();
  ::testing::AssertionResult MakeWritable();

  // Out of memory: needs RedisServerOptions::config_command. Sets maxmemory-policy noeviction
  // and maxmemory to 1 byte, so every command that may grow memory (SET, INCR, ...) answers
  // "-OOM ..."; EndOom restores the options' maxmemory and policy.
  ::testing::AssertionResult StartOom();
  ::testing::AssertionResult EndOom();

  // CLIENT KILL TYPE normal (pooled command connections) / TYPE pubsub (subscribers): the
  // connections are closed by the server (a FIN, which the clients see at once). `killed`
  // receives how many.
  ::testing::AssertionResult KillNormalClients(long long* killed = nullptr);
  ::testing::AssertionResult KillPubSubClients(long long* killed = nullptr);

  // ACL SETUSER <user> -<command> / +<command>: the user's connections get "-NOPERM ..." for
  // that command until allowed again (existing connections included).
  ::testing::AssertionResult DenyCommand(const std::string& user, const std::string& command);
  ::testing::AssertionResult AllowCommand(const std::string& user, const std::string& command);

  // An ACL user for RedisServerOptions::more_users with every permission but `command`.
  static RedisServerOptions::AclUser UserWithout(std::string name, std::string password,
                                                 const std::string& command);

 private:
  // Runs `args`; success unless there is no reply or an error reply.
  ::testing::AssertionResult Expect(const std::vector<std::string>& args,
                                    long long* integer = nullptr);

  RedisServerProcess& server_;
};

// "READONLY", "OOM", "NOPERM", ... : the first word of an error reply; "" for other replies.
std::string ErrorPrefix(const RedisReply& reply);

}  // namespace keycache::testing
