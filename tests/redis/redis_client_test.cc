// RedisClient against a real, hardened redis-server with requirepass.
#include "redis/redis_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "redis/redis_test_util.h"
#include "support/redis_server_process.h"

namespace keycache::testing {
namespace {

namespace asio = boost::asio;

RedisServerOptions Hardened() {
  RedisServerOptions o;
  o.password = "s3cret-pass";
  return o;
}

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }

  std::unique_ptr<RedisClient> MakeClient(RedisOptions o) {
    auto client = std::make_unique<RedisClient>(io_.executors(), std::move(o), log_);
    client->Start();
    return client;
  }
  std::unique_ptr<RedisClient> Connected(RedisOptions o) {
    auto client = MakeClient(std::move(o));
    EXPECT_TRUE(WaitFor([&] { return client->connected_count() == client->pool_size(); }))
        << client->last_error() << "\n"
        << server_.log();
    return client;
  }
  RedisOptions Options(int pool = 4) {
    RedisOptions o = server_.ClientOptions();
    o.pool_size = pool;
    return o;
  }

  Logger log_{LogLevel::kOff};
  IoThreads io_{2};
  RedisServerProcess server_{Hardened()};
};

TEST_F(RedisClientTest, SetGetRoundTrip) {
  auto client = Connected(Options());
  auto set = ExecOn(*client, io_.executor(0), Cmd({"SET", "greeting", "hello"}));
  ASSERT_TRUE(set.has_value());
  ASSERT_EQ(set->size(), 1u);
  EXPECT_TRUE((*set)[0].is_ok());
  auto get = ExecOn(*client, io_.executor(1), Cmd({"GET", "greeting"}));
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ((*get)[0], RedisReply::String("hello"));
  auto missing = ExecOn(*client, io_.executor(0), Cmd({"GET", "no-such-key"}));
  ASSERT_TRUE(missing.has_value());
  EXPECT_TRUE((*missing)[0].is_nil());
}

TEST_F(RedisClientTest, PipelineReturnsRepliesInOrderAndErrorsAreValues) {
  auto client = Connected(Options());
  RedisRequest r;
  constexpr int kN = 2000;
  std::vector<std::string> keys, values;
  for (int i = 0; i < kN; ++i) {
    keys.push_back("pipe:" + std::to_string(i));
    values.push_back(std::string(static_cast<std::size_t>(i % 50), 'v') + std::to_string(i));
  }
  for (int i = 0; i < kN; ++i) r.Push({"SET", keys[i], values[i]});
  r.Push({"INCR", keys[1]});  // not an integer: an error reply, not a failure
  for (int i = 0; i < kN; ++i) r.Push({"GET", keys[i]});
  auto replies = ExecOn(*client, io_.executor(0), std::move(r));
  ASSERT_TRUE(replies.has_value());
  ASSERT_EQ(replies->size(), 2u * kN + 1);
  for (int i = 0; i < kN; ++i) EXPECT_TRUE((*replies)[i].is_ok());
  EXPECT_TRUE((*replies)[kN].is_error());
  for (int i = 0; i < kN; ++i) EXPECT_EQ((*replies)[kN + 1 + i].str, values[i]) << i;
}

TEST_F(RedisClientTest, EmptyRequestReturnsNoReplies) {
  auto client = Connected(Options());
  auto replies = ExecOn(*client, io_.executor(0), RedisRequest());
  ASSERT_TRUE(replies.has_value());
  EXPECT_TRUE(replies->empty());
}

// Many coroutines on the pool's executors and on a foreign one, each doing SET then GET of its
// own key: every reply must belong to its caller.
TEST_F(RedisClientTest, ManyConcurrentCallsFromSeveralExecutors) {
  IoThreads foreign(1);
  auto client = Connected(Options(3));
  constexpr int kPerExecutor = 300;
  std::atomic<int> ok{0}, bad{0}, done{0};
  std::vector<asio::any_io_executor> callers = io_.executors();
  callers.push_back(foreign.executor(0));
  auto one = [&](std::string key) -> asio::awaitable<void> {
    const std::string value = "value-of-" + key;
    RedisRequest set;
    set.Push({"SET", key, value});
    auto s = co_await client->Execute(std::move(set));
    RedisRequest get;
    get.Push({"GET", key});
    get.Push({"STRLEN", key});
    auto g = co_await client->Execute(std::move(get));
    if (s && s->size() == 1 && (*s)[0].is_ok() && g && g->size() == 2 && (*g)[0].str == value &&
        (*g)[1].integer == static_cast<long long>(value.size())) {
      ++ok;
    } else {
      ++bad;
    }
    ++done;
  };
  int total = 0;
  for (std::size_t e = 0; e < callers.size(); ++e) {
    for (int i = 0; i < kPerExecutor; ++i) {
      std::string key = "conc:" + std::to_string(e) + ":" + std::to_string(i);
      auto task = one(std::move(key));
      asio::co_spawn(callers[e], std::move(task), asio::detached);
      ++total;
    }
  }
  ASSERT_TRUE(WaitFor([&] { return done.load() == total; }, std::chrono::seconds(30)));
  EXPECT_EQ(ok.load(), total);
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(RedisClientTest, HardenedServerRefusesAdminCommands) {
  auto client = Connected(Options());
  RedisRequest r;
  r.Push({"KEYS", "*"}).Push({"FLUSHALL"}).Push({"CONFIG", "GET", "maxmemory"}).Push({"PING"});
  auto replies = ExecOn(*client, io_.executor(0), std::move(r));
  ASSERT_TRUE(replies.has_value());
  ASSERT_EQ(replies->size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE((*replies)[i].is_error()) << i;
    EXPECT_NE((*replies)[i].str.find("unknown command"), std::string::npos) << (*replies)[i].str;
  }
  EXPECT_EQ((*replies)[3], RedisReply::Status("PONG"));
}

TEST_F(RedisClientTest, WrongPasswordIsReportedAsAuthenticationFailure) {
  RedisOptions o = Options(2);
  o.password = "not-the-password";
  auto client = MakeClient(o);
  ASSERT_TRUE(WaitFor([&] { return client->auth_failed(); }));
  EXPECT_NE(client->last_error().find("Redis authentication failed"), std::string::npos)
      << client->last_error();
  EXPECT_FALSE(client->connected());
  auto r = ExecOn(*client, io_.executor(0), Cmd({"PING"}));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), make_error_code(Errc::kUnavailable));
}

TEST_F(RedisClientTest, MissingPasswordIsReportedAsAuthenticationFailure) {
  RedisOptions o = Options(1);
  o.password.clear();
  auto client = MakeClient(o);
  ASSERT_TRUE(WaitFor([&] { return client->auth_failed(); }));
  EXPECT_NE(client->last_error().find("NOAUTH"), std::string::npos) << client->last_error();
}

TEST_F(RedisClientTest, SelectedDatabaseIsolatesKeys) {
  RedisOptions o3 = Options(2);
  o3.db = 3;
  auto db3 = Connected(o3);
  auto db0 = Connected(Options(2));
  ASSERT_TRUE(ExecOn(*db3, io_.executor(0), Cmd({"SET", "isolated", "in-3"})).has_value());
  auto from0 = ExecOn(*db0, io_.executor(0), Cmd({"GET", "isolated"}));
  ASSERT_TRUE(from0.has_value());
  EXPECT_TRUE((*from0)[0].is_nil());
  auto from3 = ExecOn(*db3, io_.executor(1), Cmd({"GET", "isolated"}));
  ASSERT_TRUE(from3.has_value());
  EXPECT_EQ((*from3)[0].str, "in-3");
}

TEST_F(RedisClientTest, ClientNameIsSet) {
  auto client = Connected(Options(1));
  auto r = ExecOn(*client, io_.executor(0), Cmd({"CLIENT", "GETNAME"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ((*r)[0].str, "keycached");
}

TEST_F(RedisClientTest, FailsFastWhileTheServerIsDown) {
  RedisOptions o = Options(3);
  o.command_timeout = std::chrono::seconds(60);  // a wait for the timeout would show as kTimeout
  auto client = Connected(o);
  server_.Kill();
  // Right after the kill (some connections may not have noticed yet) and once all have.
  for (int i = 0; i < 5; ++i) {
    auto r = ExecOn(*client, io_.executor(i % 2), Cmd({"PING"}));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), make_error_code(Errc::kUnavailable));
  }
  ASSERT_TRUE(WaitFor([&] { return !client->connected(); }));
  auto r = ExecOn(*client, io_.executor(0), Cmd({"PING"}));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), make_error_code(Errc::kUnavailable));
  ASSERT_TRUE(WaitFor([&] { return !client->last_error().empty(); }));
  EXPECT_NE(client->last_error().find("cannot connect to Redis at 127.0.0.1:"), std::string::npos)
      << client->last_error();
}

TEST_F(RedisClientTest, ReconnectsByItselfAfterRestart) {
  auto client = Connected(Options(3));
  server_.Kill();
  ASSERT_TRUE(WaitFor([&] { return !client->connected(); }));
  ASSERT_TRUE(server_.Start());
  ASSERT_TRUE(WaitFor([&] { return client->connected_count() == 3; })) << client->last_error();
  auto r = ExecOn(*client, io_.executor(0), Cmd({"SET", "after", "restart"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE((*r)[0].is_ok());
  EXPECT_EQ(client->last_error(), "");
}

// A call whose connection is killed while it waits for its reply is retried on another one.
// (A blocking command holds up everything pipelined behind it, so a separate client watches.)
TEST_F(RedisClientTest, RetriesOnAnotherConnectionWhenItsConnectionDrops) {
  RedisOptions o = Options(2);
  o.command_timeout = std::chrono::seconds(60);
  auto client = Connected(o);
  auto observer = Connected(Options(1));
  auto blocked_in_blpop = [&](std::string* id) {
    auto list = observer->ExecuteSync(Cmd({"CLIENT", "LIST"}));
    if (!list) return false;
    std::istringstream lines((*list)[0].str);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("cmd=blpop") == std::string::npos) continue;
      if (id != nullptr) *id = line.substr(3, line.find(' ') - 3);
      return true;
    }
    return false;
  };
  auto task = client->Execute(Cmd({"BLPOP", "retry-list", "50"}));
  auto blocked = asio::co_spawn(io_.executor(0), std::move(task), asio::use_future);
  std::string id;
  ASSERT_TRUE(WaitFor([&] { return blocked_in_blpop(&id); }));
  auto kill = observer->ExecuteSync(Cmd({"CLIENT", "KILL", "ID", id}));
  ASSERT_TRUE(kill.has_value());
  EXPECT_EQ((*kill)[0].integer, 1);
  // The retry blocks again, on the other connection, until there is something to pop.
  ASSERT_TRUE(WaitFor([&] { return blocked_in_blpop(nullptr); }));
  ASSERT_TRUE(observer->ExecuteSync(Cmd({"RPUSH", "retry-list", "x"})).has_value());
  ASSERT_EQ(blocked.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  auto r = blocked.get();
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_TRUE((*r)[0].is_array());
  ASSERT_EQ((*r)[0].elements.size(), 2u);
  EXPECT_EQ((*r)[0].elements[1].str, "x");
}

TEST_F(RedisClientTest, CommandTimeoutWhenTheServerStopsAnswering) {
  RedisOptions o = Options(2);
  o.command_timeout = std::chrono::milliseconds(300);
  o.connect_timeout = std::chrono::milliseconds(500);
  auto client = Connected(o);
  server_.Pause();
  auto r = ExecOn(*client, io_.executor(0), Cmd({"PING"}));
  server_.Resume();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), make_error_code(Errc::kTimeout));
  // It recovers once the server answers again.
  ASSERT_TRUE(WaitFor([&] {
    auto again = ExecOn(*client, io_.executor(1), Cmd({"PING"}));
    return again.has_value() && (*again)[0].str == "PONG";
  }));
}

TEST_F(RedisClientTest, ExecuteSyncFromPlainThreads) {
  auto client = Connected(Options(2));
  auto r = client->ExecuteSync(Cmd({"SET", "sync", "1"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE((*r)[0].is_ok());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto incr = client->ExecuteSync(Cmd({"INCR", "sync-counter"}));
        if (incr && (*incr)[0].is_integer()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
  auto total = client->ExecuteSync(Cmd({"GET", "sync-counter"}));
  ASSERT_TRUE(total.has_value());
  EXPECT_EQ((*total)[0].str, "200");
}

TEST_F(RedisClientTest, StopFailsLaterCallsAndIsIdempotent) {
  auto client = Connected(Options(2));
  client->Stop();
  client->Stop();
  EXPECT_FALSE(client->connected());
  auto r = ExecOn(*client, io_.executor(0), Cmd({"PING"}));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), make_error_code(Errc::kUnavailable));
  auto s = client->ExecuteSync(Cmd({"PING"}));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error(), make_error_code(Errc::kUnavailable));
}

TEST(RedisClientAclTest, AclUserWithPassword) {
  Logger log(LogLevel::kOff);
  IoThreads io(1);
  RedisServerOptions so;
  so.password = "default-pass";
  so.acl_user = "svc";
  so.acl_password = "svc-pass";
  RedisServerProcess server(so);
  ASSERT_TRUE(server.Start());

  RedisOptions good = server.ClientOptions();
  good.pool_size = 1;
  good.username = "svc";
  good.password = "svc-pass";
  RedisClient client(io.executors(), good, log);
  client.Start();
  ASSERT_TRUE(WaitFor([&] { return client.connected(); })) << client.last_error();
  auto who = ExecOn(client, io.executor(0), Cmd({"ACL", "WHOAMI"}));
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ((*who)[0].str, "svc");

  RedisOptions bad = good;
  bad.password = "wrong";
  RedisClient refused(io.executors(), bad, log);
  refused.Start();
  ASSERT_TRUE(WaitFor([&] { return refused.auth_failed(); }));
  EXPECT_NE(refused.last_error().find("Redis authentication failed: WRONGPASS"), std::string::npos)
      << refused.last_error();
  EXPECT_FALSE(refused.connected());
}

}  // namespace
}  // namespace keycache::testing
