// Key names, invalidation messages and the circuit breaker: the Redis tier's pure parts.
#include <gtest/gtest.h>

#include <vector>

#include "l2/circuit_breaker.h"
#include "l2/invalidation_message.h"
#include "l2/l2_keys.h"

namespace keycache {
namespace {

TEST(L2Keys, NamesLiveUnderThePrefixWithTheIdAsHashTag) {
  const L2Keys keys("cache:apikeys:");
  const std::string id = KeyIdToString(12345);
  EXPECT_EQ(keys.Facts(12345), "cache:apikeys:v:{" + id + "}");
  EXPECT_EQ(keys.Generation(12345), "cache:apikeys:g:{" + id + "}");
  EXPECT_EQ(keys.UserList("team"), "cache:apikeys:u:{team}");
  EXPECT_EQ(keys.OwnerGeneration("team"), "cache:apikeys:og:{team}");
  EXPECT_EQ(keys.Usage(12345, 99), "cache:apikeys:c:{" + id + "}:99");
  EXPECT_EQ(keys.Channel(), "cache:apikeys:invalidations");
}

TEST(L2Keys, ScanPatternsMatchOneTypeAndEscapeThePrefix) {
  const L2Keys keys("a*b?[c]:");
  EXPECT_EQ(keys.Pattern(CacheType::kValidation), "a\\*b\\?\\[c\\]:v:*");
  EXPECT_EQ(keys.Pattern(CacheType::kUserList), "a\\*b\\?\\[c\\]:u:*");
  EXPECT_EQ(keys.Pattern(CacheType::kUsage), "a\\*b\\?\\[c\\]:c:*");
  EXPECT_EQ(keys.Pattern(CacheType::kScope), "");
}

TEST(InvalidationMessage, EveryKindRoundTrips) {
  std::vector<InvalidationMessage> all;
  for (CacheChange c :
       {CacheChange::Key(987654321, "team \"7\""), CacheChange::Key(5, ""), CacheChange::Owner("o"),
        CacheChange::Type(CacheType::kUserList), CacheChange::All()}) {
    InvalidationMessage m;
    m.source = "node-a";
    m.sent_at_us = 1'700'000'000'000'123;
    m.change = c;
    all.push_back(m);
  }
  InvalidationMessage beat;
  beat.source = "node-b";
  beat.sent_at_us = 42;
  beat.heartbeat = true;
  beat.heartbeat_seq = 18'000'000'000'000'000'000u;
  all.push_back(beat);
  for (const InvalidationMessage& m : all) {
    auto back = DecodeInvalidation(EncodeInvalidation(m));
    ASSERT_TRUE(back) << EncodeInvalidation(m);
    EXPECT_EQ(*back, m) << EncodeInvalidation(m);
  }
}

// Found by tests/fuzz/invalidation_message: an "owner" on a type message was kept, though no
// encoding of a type message carries one, so decoding, encoding and decoding again changed it.
TEST(InvalidationMessage, OnlyKeyAndOwnerMessagesCarryAnOwner) {
  auto type =
      DecodeInvalidation(R"({"v":1,"kind":"type","src":"b","ts_us":1,"type":"usage","owner":"x"})");
  ASSERT_TRUE(type);
  EXPECT_EQ(type->change.owner, "");
  auto again = DecodeInvalidation(EncodeInvalidation(*type));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->change.kind, CacheChange::Kind::kType);
  EXPECT_EQ(again->change.type, CacheType::kUsage);
  EXPECT_EQ(again->change.owner, type->change.owner);

  auto key = DecodeInvalidation(
      R"({"v":1,"kind":"key","src":"b","ts_us":1,"id":"0000000000A","owner":"o"})");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->change.owner, "o");
}

TEST(InvalidationMessage, ForeignPayloadsAreRefused) {
  for (const char* bad : {"", "hello", "[]", "{}", R"({"v":2,"kind":"all","src":"a","ts_us":1})",
                          R"({"v":1,"kind":"nope","src":"a","ts_us":1})",
                          R"({"v":1,"kind":"key","src":"a","ts_us":1})",
                          R"({"v":1,"kind":"key","src":"a","ts_us":1,"id":"short"})",
                          R"({"v":1,"kind":"type","src":"a","ts_us":1,"type":"bogus"})",
                          R"({"v":1,"kind":"owner","src":"a","ts_us":1})",
                          R"({"v":1,"kind":"all","src":5,"ts_us":1})",
                          R"({"v":1,"kind":"heartbeat","src":"a","ts_us":1})",
                          R"({"v":1,"kind":"heartbeat","src":"a","ts_us":1,"seq":-1})",
                          R"({"v":1,"kind":"heartbeat","src":"a","ts_us":1,"seq":"7"})"}) {
    EXPECT_FALSE(DecodeInvalidation(bad)) << bad;
  }
}

TEST(CircuitBreaker, OpensAfterConsecutiveFailuresOnly) {
  CircuitBreaker b(3);
  EXPECT_TRUE(b.allows());
  EXPECT_FALSE(b.RecordFailure("x"));
  EXPECT_FALSE(b.RecordFailure("x"));
  b.RecordSuccess();  // resets the run
  EXPECT_FALSE(b.RecordFailure("x"));
  EXPECT_FALSE(b.RecordFailure("x"));
  EXPECT_TRUE(b.allows());
  EXPECT_TRUE(b.RecordFailure("timeout"));
  EXPECT_TRUE(b.open());
  EXPECT_EQ(b.reason(), "timeout");
  EXPECT_EQ(b.opened_count(), 1u);
  EXPECT_FALSE(b.RecordFailure("again")) << "already open";
  EXPECT_EQ(b.opened_count(), 1u);
}

TEST(CircuitBreaker, ClosesOnlyWhenTold) {
  CircuitBreaker b(1);
  EXPECT_TRUE(b.Open("down"));
  EXPECT_FALSE(b.Open("down"));
  b.RecordSuccess();
  EXPECT_TRUE(b.open()) << "a success while open does not close it; the prober does";
  EXPECT_TRUE(b.Close());
  EXPECT_FALSE(b.Close());
  EXPECT_TRUE(b.allows());
  EXPECT_TRUE(b.RecordFailure("one is enough"));
}

}  // namespace
}  // namespace keycache
