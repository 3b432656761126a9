// L2Cache against a real, hardened redis-server: generation-fenced reads and fills, sealed
// values, fences with SCAN, usage counters, the breaker's fast failures, entry sizes — and a Redis
// that answers writes with an error reply (READONLY, OOM, NOPERM): every such refusal fails the
// fence and opens the breaker with the reply as its reason.
#include "l2/l2_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/key_hasher.h"
#include "redis/redis_test_util.h"
#include "support/keycached_process.h"
#include "support/redis_server_process.h"

namespace keycache::testing {
namespace {

using namespace std::chrono_literals;

const std::string kPepper(48, 'z');

FactsAnswer Facts(KeyId id, std::string owner = "team") {
  auto f = std::make_shared<KeyFacts>();
  f->id = id;
  f->hash = KeyHasher(kPepper).Hash("ak_" + std::to_string(id));
  f->owner_id = std::move(owner);
  f->scopes = {"reports:read"};
  return FactsAnswer::Found(std::move(f));
}

InvalidationMessage Change(CacheChange c) {
  InvalidationMessage m;
  m.source = "test";
  m.change = std::move(c);
  return m;
}

class L2CacheTest : public ::testing::Test {
 protected:
  L2CacheTest() : breaker_(3), lease_(1h), metrics_(registry_), sealer_(kPepper) {}

  virtual RedisServerOptions ServerOptions() {
    RedisServerOptions o;
    o.password = "l2-pass";
    return o;
  }

  void SetUp() override {
    server_ = std::make_unique<RedisServerProcess>(ServerOptions());
    ASSERT_TRUE(server_->Start());
    RedisOptions ro = server_->ClientOptions();
    ro.pool_size = 2;
    ro.command_timeout = 2s;
    client_ = std::make_unique<RedisClient>(io_.executors(), ro, log_);
    client_->Start();
    ASSERT_TRUE(PollUntil([&] { return client_->connected(); })) << client_->last_error();
    lease_.Renew(std::chrono::steady_clock::now());  // as the heartbeat would
    l2_ = std::make_unique<L2Cache>(*client_, breaker_, lease_, L2Keys("t:"), sealer_, L2Options{},
                                    metrics_, io_.executor(0));
  }

  // Fire-and-forget writes may still be running on the I/O threads: stop the client (they
  // fail fast) and let them finish before the cache they report to is destroyed.
  void TearDown() override {
    if (client_) client_->Stop();
    io_.Drain();
  }

  template <class T>
  T Await(boost::asio::awaitable<T> task) {
    auto f = boost::asio::co_spawn(io_.executor(1), std::move(task), boost::asio::use_future);
    if (f.wait_for(30s) != std::future_status::ready) throw std::runtime_error("hung");
    return f.get();
  }
  SharedRead<FactsAnswer> Read(KeyId id) { return Await(l2_->ReadFacts(id)); }
  Result<void> Fence(CacheChange c, bool even_if_open = false) {
    return Await(l2_->Fence(Change(std::move(c)), even_if_open));
  }

  // Direct commands, bypassing the cache, to look at what it stored.
  RedisReply Raw(std::initializer_list<std::string_view> args) {
    auto replies = client_->ExecuteSync(Cmd(args));
    EXPECT_TRUE(replies) << replies.error().message();
    return replies ? (*replies)[0] : RedisReply::Error("failed");
  }

  // Waits until a fire-and-forget write has landed.
  bool Hit(KeyId id) {
    return PollUntil([&] { return Read(id).hit(); });
  }

  Logger log_{LogLevel::kOff};
  Registry registry_;
  CircuitBreaker breaker_;
  CoherenceLease lease_;
  L2Metrics metrics_;
  const EntrySealer sealer_;
  IoThreads io_{2};
  std::unique_ptr<RedisServerProcess> server_;
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<L2Cache> l2_;
};

TEST_F(L2CacheTest, MissThenFillThenHit) {
  auto first = Read(101);
  EXPECT_FALSE(first.hit());
  ASSERT_TRUE(first.fill_generation().has_value());
  EXPECT_EQ(*first.fill_generation(), 0u);
  l2_->WriteFacts(101, *first.fill_generation(), Facts(101));
  ASSERT_TRUE(Hit(101));
  auto second = Read(101);
  ASSERT_TRUE(second.hit());
  ASSERT_TRUE(second.value().found());
  EXPECT_EQ(second.value().facts().owner_id, "team");
  EXPECT_EQ(second.value().facts().hash, Facts(101).facts().hash);
}

TEST_F(L2CacheTest, KnownMissingKeysAreCachedToo) {
  l2_->WriteFacts(102, 0, FactsAnswer::Absent());
  ASSERT_TRUE(Hit(102));
  auto r = Read(102);
  ASSERT_TRUE(r.hit());
  EXPECT_FALSE(r.value().found()) << "a sealed \"no such key\" is a hit without facts";
}

TEST_F(L2CacheTest, AFillThatRacedAnInvalidationIsNeverServed) {
  // The filler read generation 0, then the key changed, then the stale fill arrives.
  auto before = Read(103);
  ASSERT_TRUE(Fence(CacheChange::Key(103, "team")));
  l2_->WriteFacts(103, *before.fill_generation(), Facts(103));
  ASSERT_TRUE(PollUntil([&] { return Raw({"EXISTS", l2_->keys().Facts(103)}).integer == 1; }));
  auto after = Read(103);
  EXPECT_FALSE(after.hit()) << "a value sealed under an old generation was served";
  EXPECT_EQ(after.fill_generation().value_or(99), 1u);
  // A fill under the current generation is served.
  l2_->WriteFacts(103, *after.fill_generation(), Facts(103));
  EXPECT_TRUE(Hit(103));
}

TEST_F(L2CacheTest, AFenceDropsTheEntryAndPublishes) {
  l2_->WriteFacts(104, 0, Facts(104));
  ASSERT_TRUE(Hit(104));
  ASSERT_TRUE(Fence(CacheChange::Key(104, "")));
  EXPECT_EQ(Raw({"EXISTS", l2_->keys().Facts(104)}).integer, 0);
  const RedisReply gen = Raw({"GET", l2_->keys().Generation(104)});
  EXPECT_EQ(gen.str, "1");
  EXPECT_GT(Raw({"PTTL", l2_->keys().Generation(104)}).integer, 0)
      << "generation counters must expire eventually";
}

TEST_F(L2CacheTest, AHeartbeatIsAFenceOfTheInstancesOwnCounter) {
  InvalidationMessage beat;
  beat.source = "node-x";
  beat.heartbeat = true;
  beat.heartbeat_seq = 1;
  ASSERT_TRUE(Await(l2_->Fence(beat, false)));
  EXPECT_EQ(Raw({"GET", l2_->keys().Heartbeat("node-x")}).str, "1");
  EXPECT_GT(Raw({"PTTL", l2_->keys().Heartbeat("node-x")}).integer, 0);
}

TEST_F(L2CacheTest, TamperedValuesAreMisses) {
  l2_->WriteFacts(105, 0, Facts(105));
  ASSERT_TRUE(Hit(105));
  // Someone with write access to Redis copies another key's entry over this one.
  l2_->WriteFacts(106, 0, Facts(106, "attacker"));
  ASSERT_TRUE(Hit(106));
  const RedisReply other = Raw({"GET", l2_->keys().Facts(106)});
  Raw({"SET", l2_->keys().Facts(105), other.str});
  EXPECT_FALSE(Read(105).hit());
}

TEST_F(L2CacheTest, AForeignValueWhereTheCounterShouldBeIsNoAnswer) {
  Raw({"SET", l2_->keys().Generation(107), "not-a-number"});
  auto r = Read(107);
  EXPECT_FALSE(r.hit());
  EXPECT_FALSE(r.fill_generation().has_value()) << "nothing may be sealed under garbage";
}

TEST_F(L2CacheTest, TypeClearUsesScanAndKeepsGenerations) {
  for (KeyId id = 200; id < 260; ++id) l2_->WriteFacts(id, 0, Facts(id));
  l2_->WriteUserList("owner-a", 0, "{\"keys\":[]}");
  ASSERT_TRUE(PollUntil([&] {
    auto c = Await(l2_->Count());
    return c && c->validation == 60 && c->user_list == 1;
  }));
  ASSERT_TRUE(Fence(CacheChange::Key(200, "")));
  ASSERT_TRUE(Fence(CacheChange::Type(CacheType::kValidation)));
  auto counts = Await(l2_->Count());
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->validation, 0u);
  EXPECT_EQ(counts->user_list, 1u);
  EXPECT_EQ(Raw({"GET", l2_->keys().Generation(200)}).str, "1");
}

TEST_F(L2CacheTest, UserListsAreFencedByTheOwnerGeneration) {
  auto first = Await(l2_->ReadUserList("owner-b"));
  EXPECT_FALSE(first.hit());
  ASSERT_TRUE(Fence(CacheChange::Owner("owner-b")));
  l2_->WriteUserList("owner-b", *first.fill_generation(), "stale");
  ASSERT_TRUE(PollUntil([&] { return Raw({"EXISTS", l2_->keys().UserList("owner-b")}).integer; }));
  auto second = Await(l2_->ReadUserList("owner-b"));
  EXPECT_FALSE(second.hit());
  l2_->WriteUserList("owner-b", *second.fill_generation(), "fresh");
  ASSERT_TRUE(PollUntil([&] {
    auto r = Await(l2_->ReadUserList("owner-b"));
    return r.hit() && r.value() == "fresh";
  }));
}

TEST_F(L2CacheTest, UsageCountersAddUpPerMinute) {
  const TimeMs now = 1'800'000'000'000;
  std::vector<UsageDelta> batch{{7, 3, now, ""}, {8, 1, now, ""}};
  l2_->AddUsage(batch, now);
  l2_->AddUsage(batch, now);
  l2_->AddUsage(std::vector<UsageDelta>{{7, 5, now - 60'000, ""}}, now - 60'000);
  ASSERT_TRUE(PollUntil([&] {
    auto r = Await(l2_->ReadRecentUsage(7, now));
    return r && r->current_minute == 6 && r->previous_minute == 5;
  }));
  auto other = Await(l2_->ReadRecentUsage(8, now));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->current_minute, 2u);
}

TEST_F(L2CacheTest, AnOpenBreakerSendsNothingAndFailsAtOnce) {
  breaker_.Open("test");
  auto r = Read(300);
  EXPECT_FALSE(r.hit());
  EXPECT_FALSE(r.fill_generation().has_value());
  EXPECT_FALSE(Fence(CacheChange::Key(300, "")));
  EXPECT_EQ(Raw({"EXISTS", l2_->keys().Generation(300)}).integer, 0);
  // The heartbeat and the replay go through even while open.
  EXPECT_TRUE(Fence(CacheChange::Key(300, ""), /*even_if_open=*/true));
  EXPECT_EQ(Raw({"GET", l2_->keys().Generation(300)}).str, "1");
}

TEST_F(L2CacheTest, ALapsedLeaseRefusesReads) {
  l2_->WriteFacts(301, 0, Facts(301));
  ASSERT_TRUE(Hit(301));
  lease_.Revoke();
  EXPECT_FALSE(l2_->Usable());
  auto r = Read(301);
  EXPECT_FALSE(r.hit()) << "past the lease Redis is not trusted either";
  EXPECT_FALSE(r.fill_generation().has_value());
}

TEST_F(L2CacheTest, TheBreakerOpensWhenRedisGoesAway) {
  server_->Kill();
  for (int i = 0; i < 10 && breaker_.allows(); ++i) EXPECT_FALSE(Read(400).hit());
  EXPECT_TRUE(breaker_.open());
  ASSERT_TRUE(server_->Restart());
  EXPECT_TRUE(PollUntil([&] { return Fence(CacheChange::Key(400, ""), true).has_value(); }));
}

TEST_F(L2CacheTest, EntriesAreSmallInRedisMemory) {
  l2_->WriteFacts(500, 0, Facts(500));
  ASSERT_TRUE(Hit(500));
  auto bytes = Await(l2_->MemoryUsage(l2_->keys().Facts(500)));
  ASSERT_TRUE(bytes);
  std::printf("MEMORY USAGE of one validation entry: %lld bytes\n", static_cast<long long>(*bytes));
  EXPECT_LT(*bytes, 256);
}

// Regression (issue 7): an error *reply* to a coherence write counted as success because the
// transport worked. A demoted primary answers writes with READONLY.
TEST_F(L2CacheTest, AReadOnlyRedisFailsTheFenceAndOpensTheBreakerWithTheReply) {
  l2_->WriteFacts(600, 0, Facts(600));
  ASSERT_TRUE(Hit(600));
  ASSERT_EQ(Raw({"REPLICAOF", "127.0.0.1", "1"}).type, RedisReply::Type::kStatus);
  auto fenced = Fence(CacheChange::Key(600, "team"));
  EXPECT_FALSE(fenced) << "a refused INCR is not a fence";
  EXPECT_TRUE(breaker_.open());
  EXPECT_NE(breaker_.reason().find("READONLY"), std::string::npos) << breaker_.reason();
  EXPECT_NE(breaker_.reason().find("INCR"), std::string::npos) << breaker_.reason();
  // Fills are refused too, and Redis comes back when it is a primary again.
  ASSERT_EQ(Raw({"REPLICAOF", "NO", "ONE"}).type, RedisReply::Type::kStatus);
  EXPECT_TRUE(Fence(CacheChange::Key(600, "team"), /*even_if_open=*/true));
}

TEST_F(L2CacheTest, AReadOnlyRedisRefusesFillsAndTheBreakerOpens) {
  ASSERT_EQ(Raw({"REPLICAOF", "127.0.0.1", "1"}).type, RedisReply::Type::kStatus);
  l2_->WriteFacts(601, 0, Facts(601));
  EXPECT_TRUE(PollUntil([&] { return breaker_.open(); }));
  EXPECT_NE(breaker_.reason().find("READONLY"), std::string::npos) << breaker_.reason();
  Raw({"REPLICAOF", "NO", "ONE"});
}

// An endpoint source whose primary "changes" on demand (same server, next generation), as
// Sentinel's would after a failover.
class MovableEndpoint final : public RedisEndpointSource {
 public:
  explicit MovableEndpoint(std::uint16_t port) : port_(port) {}
  std::optional<PrimaryEndpoint> Current() const override {
    return PrimaryEndpoint{"127.0.0.1", port_, generation_.load()};
  }
  std::uint64_t generation() const override { return generation_.load(); }
  void ReportFailure(const PrimaryEndpoint&, bool) override {}
  int AddListener(std::function<void()> f) override {
    std::lock_guard lock(mu_);
    listeners_.push_back(std::move(f));
    return static_cast<int>(listeners_.size()) - 1;
  }
  void RemoveListener(int id) override {
    std::lock_guard lock(mu_);
    listeners_[static_cast<std::size_t>(id)] = nullptr;
  }
  void Move() {
    generation_.fetch_add(1);
    std::lock_guard lock(mu_);
    for (auto& f : listeners_) {
      if (f) f();
    }
  }

 private:
  const std::uint16_t port_;
  std::atomic<std::uint64_t> generation_{1};
  std::mutex mu_;
  std::vector<std::function<void()>> listeners_;
};

TEST_F(L2CacheTest, AFillReadUnderAnEarlierPrimaryIsDropped) {
  // Re-create the client in Sentinel mode: its primary can "move" (a failover).
  client_->Stop();
  io_.Drain();
  auto endpoint = std::make_shared<MovableEndpoint>(server_->port());
  RedisOptions ro = server_->ClientOptions();
  ro.endpoint_source = endpoint;
  ro.pool_size = 2;
  l2_.reset();
  client_ = std::make_unique<RedisClient>(io_.executors(), ro, log_);
  client_->Start();
  ASSERT_TRUE(PollUntil([&] { return client_->connected(); })) << client_->last_error();
  l2_ = std::make_unique<L2Cache>(*client_, breaker_, lease_, L2Keys("t:"), sealer_, L2Options{},
                                  metrics_, io_.executor(0));

  auto before = Read(120);
  ASSERT_TRUE(before.fill_generation().has_value());
  endpoint->Move();  // the primary changed between the read and the fill
  ASSERT_TRUE(PollUntil([&] { return client_->connected(); })) << client_->last_error();
  l2_->WriteFacts(120, *before.fill_generation(), Facts(120));
  io_.Drain();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(Raw({"EXISTS", l2_->keys().Facts(120)}).integer, 0)
      << "a fill whose generation was read from an earlier primary was written";
  // A fill read under the current primary lands and is served.
  auto after = Read(120);
  ASSERT_TRUE(after.fill_generation().has_value());
  EXPECT_NE(*after.fill_generation(), *before.fill_generation()) << "the epoch is in it";
  l2_->WriteFacts(120, *after.fill_generation(), Facts(120));
  EXPECT_TRUE(Hit(120));
}

class L2CacheOomTest : public L2CacheTest {
 protected:
  RedisServerOptions ServerOptions() override {
    RedisServerOptions o = L2CacheTest::ServerOptions();
    o.config_command = "KC_TEST_CONFIG";  // as a Sentinel-ready config renames it
    return o;
  }
};

TEST_F(L2CacheOomTest, AFullRedisWithoutEvictionFailsTheFenceWithOom) {
  // Memory full and nothing to evict: every write that may grow memory answers OOM.
  ASSERT_TRUE(Raw({"KC_TEST_CONFIG", "SET", "maxmemory-policy", "noeviction"}).is_status());
  ASSERT_TRUE(Raw({"KC_TEST_CONFIG", "SET", "maxmemory", "1"}).is_status());
  EXPECT_FALSE(Fence(CacheChange::Key(700, "team")));
  EXPECT_TRUE(breaker_.open());
  EXPECT_NE(breaker_.reason().find("OOM"), std::string::npos) << breaker_.reason();
  // Space again: the fence goes through.
  ASSERT_TRUE(Raw({"KC_TEST_CONFIG", "SET", "maxmemory", "64mb"}).is_status());
  EXPECT_TRUE(PollUntil([&] { return Fence(CacheChange::Key(700, "team"), true).has_value(); }));
}

class L2CacheNoPermTest : public L2CacheTest {
 protected:
  RedisServerOptions ServerOptions() override {
    RedisServerOptions o;
    o.more_users.push_back({"kc", "kc-pass", "~* &* +@all -incr"});
    return o;
  }
  void SetUp() override {
    L2CacheTest::SetUp();
    // Reconnect as the restricted user.
    client_->Stop();
    RedisOptions ro = server_->ClientOptions();
    ro.username = "kc";
    ro.password = "kc-pass";
    ro.pool_size = 2;
    client_ = std::make_unique<RedisClient>(io_.executors(), ro, log_);
    client_->Start();
    ASSERT_TRUE(PollUntil([&] { return client_->connected(); })) << client_->last_error();
    l2_ = std::make_unique<L2Cache>(*client_, breaker_, lease_, L2Keys("t:"), sealer_, L2Options{},
                                    metrics_, io_.executor(0));
  }
};

TEST_F(L2CacheNoPermTest, AUserWithoutIncrFailsTheFenceWithNoPerm) {
  EXPECT_FALSE(Fence(CacheChange::Key(800, "team")));
  EXPECT_TRUE(breaker_.open());
  EXPECT_NE(breaker_.reason().find("NOPERM"), std::string::npos) << breaker_.reason();
}

}  // namespace
}  // namespace keycache::testing
