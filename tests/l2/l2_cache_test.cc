// L2Cache against a real, hardened redis-server: generation-fenced reads and fills, sealed
// values, invalidation with SCAN, usage counters, the breaker's fast failures, entry sizes.
#include "l2/l2_cache.h"

#include <gtest/gtest.h>

#include "core/key_hasher.h"
#include "redis/redis_test_util.h"
#include "support/keycached_process.h"
#include "support/redis_server_process.h"

namespace keycache::testing {
namespace {

using namespace std::chrono_literals;

const std::string kPepper(48, 'z');

std::shared_ptr<const KeyFacts> Facts(KeyId id, std::string owner = "team") {
  auto f = std::make_shared<KeyFacts>();
  f->id = id;
  f->hash = KeyHasher(kPepper).Hash("ak_" + std::to_string(id));
  f->owner_id = std::move(owner);
  f->scopes = {"reports:read"};
  return f;
}

class L2CacheTest : public ::testing::Test {
 protected:
  L2CacheTest() : breaker_(3), metrics_(registry_), sealer_(kPepper) {}

  void SetUp() override {
    RedisServerOptions o;
    o.password = "l2-pass";
    server_ = std::make_unique<RedisServerProcess>(o);
    ASSERT_TRUE(server_->Start());
    RedisOptions ro = server_->ClientOptions();
    ro.pool_size = 2;
    ro.command_timeout = 2s;
    client_ = std::make_unique<RedisClient>(io_.executors(), ro, log_);
    client_->Start();
    ASSERT_TRUE(PollUntil([&] { return client_->connected(); })) << client_->last_error();
    l2_ = std::make_unique<L2Cache>(*client_, breaker_, L2Keys("t:"), sealer_, L2Options{},
                                    metrics_, io_.executor(0));
  }

  // Fire-and-forget writes may still be running on the I/O threads: stop the client (they
  // fail fast) and let them finish before the cache they report to is destroyed.
  void TearDown() override {
    if (client_) client_->Stop();
    io_.Drain();
  }

  Result<L2FactsRead> Read(KeyId id) {
    auto task = l2_->ReadFacts(id);
    auto f = boost::asio::co_spawn(io_.executor(1), std::move(task), boost::asio::use_future);
    return f.get();
  }

  // Direct commands, bypassing the cache, to look at what it stored.
  RedisReply Raw(std::initializer_list<std::string_view> args) {
    auto replies = client_->ExecuteSync(Cmd(args));
    EXPECT_TRUE(replies) << replies.error().message();
    return replies ? (*replies)[0] : RedisReply::Error("failed");
  }

  // Waits until a fire-and-forget write has landed.
  bool Hit(KeyId id) {
    return PollUntil([&] {
      auto r = Read(id);
      return r && r->hit;
    });
  }

  Logger log_{LogLevel::kOff};
  Registry registry_;
  CircuitBreaker breaker_;
  L2Metrics metrics_;
  const EntrySealer sealer_;
  IoThreads io_{2};
  std::unique_ptr<RedisServerProcess> server_;
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<L2Cache> l2_;
};

TEST_F(L2CacheTest, MissThenFillThenHit) {
  auto first = Read(101);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->hit);
  EXPECT_EQ(first->generation, 0u);
  l2_->WriteFacts(101, first->generation, Facts(101));
  ASSERT_TRUE(Hit(101));
  auto second = Read(101);
  ASSERT_TRUE(second && second->facts);
  EXPECT_EQ(second->facts->owner_id, "team");
  EXPECT_EQ(second->facts->hash, Facts(101)->hash);
}

TEST_F(L2CacheTest, KnownMissingKeysAreCachedToo) {
  l2_->WriteFacts(102, 0, nullptr);
  ASSERT_TRUE(Hit(102));
  auto r = Read(102);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->hit);
  EXPECT_EQ(r->facts, nullptr);
}

TEST_F(L2CacheTest, AFillThatRacedAnInvalidationIsNeverServed) {
  // The filler read generation 0, then the key changed, then the stale fill arrives.
  auto before = Read(103);
  ASSERT_TRUE(before);
  InvalidationMessage m;
  m.kind = InvalidationMessage::Kind::kKey;
  m.id = 103;
  m.owner = "team";
  ASSERT_TRUE(l2_->InvalidateSync(m));
  l2_->WriteFacts(103, before->generation, Facts(103));
  ASSERT_TRUE(PollUntil([&] { return Raw({"EXISTS", l2_->keys().Facts(103)}).integer == 1; }));
  auto after = Read(103);
  ASSERT_TRUE(after);
  EXPECT_FALSE(after->hit) << "a value sealed under an old generation was served";
  EXPECT_EQ(after->generation, 1u);
  // A fill under the current generation is served.
  l2_->WriteFacts(103, after->generation, Facts(103));
  EXPECT_TRUE(Hit(103));
}

TEST_F(L2CacheTest, InvalidationDropsTheEntryAndPublishes) {
  l2_->WriteFacts(104, 0, Facts(104));
  ASSERT_TRUE(Hit(104));
  InvalidationMessage m;
  m.kind = InvalidationMessage::Kind::kKey;
  m.id = 104;
  ASSERT_TRUE(l2_->InvalidateSync(m));
  EXPECT_EQ(Raw({"EXISTS", l2_->keys().Facts(104)}).integer, 0);
  const RedisReply gen = Raw({"GET", l2_->keys().Generation(104)});
  EXPECT_EQ(gen.str, "1");
  EXPECT_GT(Raw({"PTTL", l2_->keys().Generation(104)}).integer, 0)
      << "generation counters must expire eventually";
}

TEST_F(L2CacheTest, TamperedValuesAreMisses) {
  l2_->WriteFacts(105, 0, Facts(105));
  ASSERT_TRUE(Hit(105));
  // Someone with write access to Redis copies another key's entry over this one.
  l2_->WriteFacts(106, 0, Facts(106, "attacker"));
  ASSERT_TRUE(Hit(106));
  const RedisReply other = Raw({"GET", l2_->keys().Facts(106)});
  Raw({"SET", l2_->keys().Facts(105), other.str});
  auto r = Read(105);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->hit);
}

TEST_F(L2CacheTest, TypeClearUsesScanAndKeepsGenerations) {
  for (KeyId id = 200; id < 260; ++id) l2_->WriteFacts(id, 0, Facts(id));
  l2_->WriteUserList("owner-a", 0, "{\"keys\":[]}");
  ASSERT_TRUE(PollUntil([&] {
    auto c = l2_->CountSync();
    return c && c->validation == 60 && c->user_list == 1;
  }));
  InvalidationMessage bump;
  bump.id = 200;
  ASSERT_TRUE(l2_->InvalidateSync(bump));
  InvalidationMessage clear;
  clear.kind = InvalidationMessage::Kind::kType;
  clear.type = CacheType::kValidation;
  ASSERT_TRUE(l2_->InvalidateSync(clear));
  auto counts = l2_->CountSync();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->validation, 0u);
  EXPECT_EQ(counts->user_list, 1u);
  EXPECT_EQ(Raw({"GET", l2_->keys().Generation(200)}).str, "1");
}

TEST_F(L2CacheTest, UserListsAreFencedByTheOwnerGeneration) {
  auto first = l2_->ReadUserListSync("owner-b");
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->hit);
  InvalidationMessage m;
  m.kind = InvalidationMessage::Kind::kOwner;
  m.owner = "owner-b";
  ASSERT_TRUE(l2_->InvalidateSync(m));
  l2_->WriteUserList("owner-b", first->generation, "stale");
  ASSERT_TRUE(PollUntil([&] { return Raw({"EXISTS", l2_->keys().UserList("owner-b")}).integer; }));
  auto second = l2_->ReadUserListSync("owner-b");
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->hit);
  l2_->WriteUserList("owner-b", second->generation, "fresh");
  ASSERT_TRUE(PollUntil([&] {
    auto r = l2_->ReadUserListSync("owner-b");
    return r && r->hit && r->body == "fresh";
  }));
}

TEST_F(L2CacheTest, UsageCountersAddUpPerMinute) {
  const TimeMs now = 1'800'000'000'000;
  std::vector<UsageDelta> batch{{7, 3, now, ""}, {8, 1, now, ""}};
  l2_->AddUsage(batch, now);
  l2_->AddUsage(batch, now);
  l2_->AddUsage(std::vector<UsageDelta>{{7, 5, now - 60'000, ""}}, now - 60'000);
  ASSERT_TRUE(PollUntil([&] {
    auto r = l2_->RecentUsageSync(7, now);
    return r && r->first == 6 && r->second == 5;
  }));
  auto other = l2_->RecentUsageSync(8, now);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->first, 2u);
}

TEST_F(L2CacheTest, AnOpenBreakerSendsNothingAndFailsAtOnce) {
  breaker_.Open("test");
  auto r = Read(300);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(Errc::kUnavailable));
  InvalidationMessage m;
  m.id = 300;
  EXPECT_FALSE(l2_->InvalidateSync(m));
  EXPECT_EQ(Raw({"EXISTS", l2_->keys().Generation(300)}).integer, 0);
  // The replay path goes through even while open.
  EXPECT_TRUE(l2_->InvalidateSync(m, /*even_if_open=*/true));
  EXPECT_EQ(Raw({"GET", l2_->keys().Generation(300)}).str, "1");
  EXPECT_TRUE(l2_->ProbeSync());
}

TEST_F(L2CacheTest, TheBreakerOpensWhenRedisGoesAway) {
  server_->Kill();
  for (int i = 0; i < 10 && breaker_.allows(); ++i) {
    auto r = Read(400);
    EXPECT_FALSE(r);
  }
  EXPECT_TRUE(breaker_.open());
  EXPECT_FALSE(l2_->ProbeSync());
  ASSERT_TRUE(server_->Restart());
  EXPECT_TRUE(PollUntil([&] { return l2_->ProbeSync().has_value(); }));
}

TEST_F(L2CacheTest, EntriesAreSmallInRedisMemory) {
  l2_->WriteFacts(500, 0, Facts(500));
  ASSERT_TRUE(Hit(500));
  auto bytes = l2_->MemoryUsageSync(l2_->keys().Facts(500));
  ASSERT_TRUE(bytes);
  std::printf("MEMORY USAGE of one validation entry: %lld bytes\n", static_cast<long long>(*bytes));
  EXPECT_LT(*bytes, 256);
}

}  // namespace
}  // namespace keycache::testing
