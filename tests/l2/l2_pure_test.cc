// Key names, invalidation messages and the circuit breaker: the Redis tier's pure parts.
#include <gtest/gtest.h>

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
  InvalidationMessage key;
  key.kind = InvalidationMessage::Kind::kKey;
  key.source = "node-a";
  key.sent_at_us = 1'700'000'000'000'123;
  key.id = 987654321;
  key.owner = "team \"7\"";
  auto back = DecodeInvalidation(EncodeInvalidation(key));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->kind, InvalidationMessage::Kind::kKey);
  EXPECT_EQ(back->source, "node-a");
  EXPECT_EQ(back->sent_at_us, key.sent_at_us);
  EXPECT_EQ(back->id, 987654321u);
  EXPECT_EQ(back->owner, "team \"7\"");

  InvalidationMessage type;
  type.kind = InvalidationMessage::Kind::kType;
  type.type = CacheType::kUserList;
  back = DecodeInvalidation(EncodeInvalidation(type));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->kind, InvalidationMessage::Kind::kType);
  EXPECT_EQ(back->type, CacheType::kUserList);

  InvalidationMessage owner;
  owner.kind = InvalidationMessage::Kind::kOwner;
  owner.owner = "o";
  back = DecodeInvalidation(EncodeInvalidation(owner));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->owner, "o");

  InvalidationMessage all;
  all.kind = InvalidationMessage::Kind::kAll;
  back = DecodeInvalidation(EncodeInvalidation(all));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->kind, InvalidationMessage::Kind::kAll);
}

// Found by tests/fuzz/invalidation_message: an "owner" on a type message was kept, though no
// encoding of a type message carries one, so decoding, encoding and decoding again changed it.
TEST(InvalidationMessage, OnlyKeyAndOwnerMessagesCarryAnOwner) {
  auto type =
      DecodeInvalidation(R"({"v":1,"kind":"type","src":"b","ts_us":1,"type":"usage","owner":"x"})");
  ASSERT_TRUE(type);
  EXPECT_EQ(type->owner, "");
  auto again = DecodeInvalidation(EncodeInvalidation(*type));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->kind, InvalidationMessage::Kind::kType);
  EXPECT_EQ(again->type, CacheType::kUsage);
  EXPECT_EQ(again->owner, type->owner);

  auto key = DecodeInvalidation(
      R"({"v":1,"kind":"key","src":"b","ts_us":1,"id":"0000000000A","owner":"o"})");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->owner, "o");
}

TEST(InvalidationMessage, ForeignPayloadsAreRefused) {
  for (const char* bad : {"", "hello", "[]", "{}", R"({"v":2,"kind":"all","src":"a","ts_us":1})",
                          R"({"v":1,"kind":"nope","src":"a","ts_us":1})",
                          R"({"v":1,"kind":"key","src":"a","ts_us":1})",
                          R"({"v":1,"kind":"key","src":"a","ts_us":1,"id":"short"})",
                          R"({"v":1,"kind":"type","src":"a","ts_us":1,"type":"bogus"})",
                          R"({"v":1,"kind":"owner","src":"a","ts_us":1})",
                          R"({"v":1,"kind":"all","src":5,"ts_us":1})"}) {
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
