// Redis Cluster routing logic: CRC16 and key slots (values from the Redis Cluster spec and
// redis-server's CLUSTER KEYSLOT), command classification, request decoding, slot map parsing
// and redirections.
#include "redis/cluster_slots.h"

#include <gtest/gtest.h>

namespace keycache {
namespace {

TEST(ClusterSlots, Crc16MatchesTheXmodemCheckValue) {
  EXPECT_EQ(Crc16("123456789"), 0x31C3);  // the spec's reference value
  EXPECT_EQ(Crc16(""), 0);
}

TEST(ClusterSlots, KeySlotKnownValues) {
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("bar"), 5061);
  EXPECT_EQ(KeySlot("hello"), 866);
}

TEST(ClusterSlots, HashTags) {
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("{user1000}.followers"));
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("user1000"));
  EXPECT_EQ(KeySlot("foo{bar}{zap}"), KeySlot("bar"));  // the first { and the first } after it
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), KeySlot("{bar"));
  EXPECT_EQ(KeySlot("foo{}{bar}"), Crc16("foo{}{bar}") % kClusterSlots);  // empty tag: whole key
  EXPECT_EQ(KeySlot("foo{bar"), Crc16("foo{bar") % kClusterSlots);        // no closing brace
  // keycache's names: an entry and its generation share a slot.
  EXPECT_EQ(KeySlot("cache:apikeys:v:{kid_1}"), KeySlot("cache:apikeys:g:{kid_1}"));
  EXPECT_EQ(KeySlot("cache:apikeys:c:{kid_1}:29000000"), KeySlot("cache:apikeys:g:{kid_1}"));
}

TEST(ClusterSlots, ClassifiesCommands) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(ClassifyCommand(V{"GET", "k"}).route, CommandRoute::kKey);
  EXPECT_EQ(ClassifyCommand(V{"mget", "a", "b"}).key_index, 1u);
  EXPECT_EQ(ClassifyCommand(V{"PING"}).route, CommandRoute::kAnyNode);
  EXPECT_EQ(ClassifyCommand(V{"scan", "0", "MATCH", "x*"}).route, CommandRoute::kAnyNode);
  EXPECT_EQ(ClassifyCommand(V{"PUBLISH", "ch", "m"}).route, CommandRoute::kChannel);
  EXPECT_EQ(ClassifyCommand(V{"WAIT", "1", "100"}).route, CommandRoute::kSticky);
  const CommandInfo memory = ClassifyCommand(V{"MEMORY", "USAGE", "k"});
  EXPECT_EQ(memory.route, CommandRoute::kKey);
  EXPECT_EQ(memory.key_index, 2u);
  EXPECT_EQ(ClassifyCommand(V{"EVAL", "return 1", "0"}).route, CommandRoute::kAnyNode);
  EXPECT_EQ(ClassifyCommand(V{"EVAL", "s", "1", "k"}).key_index, 3u);
}

TEST(ClusterSlots, DecodesARequestBackIntoItsCommands) {
  RedisRequest r;
  r.Push({"SET", "k", std::string_view("a\r\nb\0c", 6)});
  r.Push({"PING"});
  r.Push({"MGET", "", "x"});
  auto cmds = DecodeCommands(r);
  ASSERT_TRUE(cmds);
  ASSERT_EQ(cmds->size(), 3u);
  EXPECT_EQ((*cmds)[0][2], std::string_view("a\r\nb\0c", 6));
  EXPECT_EQ((*cmds)[1].size(), 1u);
  EXPECT_EQ((*cmds)[2][1], "");
  EXPECT_TRUE(DecodeCommands(RedisRequest()).value().empty());
}

RedisReply S(std::string s) { return RedisReply::String(std::move(s)); }
RedisReply I(long long n) { return RedisReply::Integer(n); }
RedisReply A(std::vector<RedisReply> v) { return RedisReply::Array(std::move(v)); }

RedisReply Node(std::string ip, long long port, std::string role, std::string health) {
  return A({S("id"), S("x"), S("port"), I(port), S("ip"), S(ip), S("endpoint"), S(ip), S("role"),
            S(std::move(role)), S("replication-offset"), I(1), S("health"), S(std::move(health))});
}

TEST(ClusterSlots, ParsesClusterShards) {
  const RedisReply shards = A({
      A({S("slots"), A({I(0), I(99), I(200), I(16383)}), S("nodes"),
         A({Node("10.0.0.1", 7000, "master", "online"),
            Node("10.0.0.4", 7003, "replica", "online")})}),
      A({S("slots"), A({I(100), I(199)}), S("nodes"),
         // a failover: the old primary failed, a replica promoted
         A({Node("10.0.0.2", 7001, "master", "fail"),
            Node("10.0.0.5", 7004, "master", "online")})}),
      A({S("slots"), A({}), S("nodes"), A({Node("10.0.0.9", 7009, "master", "fail")})}),
  });
  auto map = ParseClusterShards(shards, false);
  ASSERT_TRUE(map);
  EXPECT_TRUE(map->Complete());
  ASSERT_EQ(map->shards.size(), 2u);
  EXPECT_EQ(map->PrimaryOf(0)->ToString(), "10.0.0.1:7000");
  EXPECT_EQ(map->PrimaryOf(16383)->ToString(), "10.0.0.1:7000");
  EXPECT_EQ(map->PrimaryOf(150)->ToString(), "10.0.0.5:7004");
  EXPECT_EQ(map->AllNodes().size(), 4u);
  map->Assign(150, RedisEndpoint{"10.0.0.7", 7007});
  EXPECT_EQ(map->PrimaryOf(150)->ToString(), "10.0.0.7:7007");
  EXPECT_EQ(map->PrimaryOf(151)->ToString(), "10.0.0.5:7004");

  EXPECT_FALSE(ParseClusterShards(S("nope"), false));
  EXPECT_FALSE(ParseClusterShards(
      A({A({S("slots"), A({I(5), I(16384)}), S("nodes"), A({Node("a", 1, "master", "online")})})}),
      false));
}

TEST(ClusterSlots, ParsesClusterSlots) {
  const RedisReply slots =
      A({A({I(0), I(8191), A({S("127.0.0.1"), I(7000), S("id1")}), A({S("127.0.0.1"), I(7003)})}),
         A({I(8192), I(16383), A({S("127.0.0.1"), I(7001), S("id2")})})});
  auto map = ParseClusterSlots(slots);
  ASSERT_TRUE(map);
  EXPECT_TRUE(map->Complete());
  EXPECT_EQ(map->PrimaryOf(8191)->port, 7000);
  EXPECT_EQ(map->PrimaryOf(8192)->port, 7001);
  EXPECT_EQ(map->shards[0].replicas.size(), 1u);
  auto partial = ParseClusterSlots(A({A({I(0), I(10), A({S("h"), I(1)})})}));
  ASSERT_TRUE(partial);
  EXPECT_FALSE(partial->Complete());
  EXPECT_EQ(partial->PrimaryOf(11), nullptr);
}

TEST(ClusterSlots, ParsesRedirections) {
  auto moved = ParseRedirect(RedisReply::Error("MOVED 3999 127.0.0.1:6381"));
  ASSERT_TRUE(moved);
  EXPECT_FALSE(moved->ask);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->target.ToString(), "127.0.0.1:6381");
  auto ask = ParseRedirect(RedisReply::Error("ASK 12182 [::1]:7002"));
  ASSERT_TRUE(ask);
  EXPECT_TRUE(ask->ask);
  EXPECT_EQ(ask->target.host, "::1");
  EXPECT_FALSE(ParseRedirect(RedisReply::Error("ERR wrong")));
  EXPECT_FALSE(ParseRedirect(RedisReply::Status("MOVED 1 a:1")));
  EXPECT_FALSE(ParseRedirect(RedisReply::Error("MOVED 16384 a:1")));
  EXPECT_TRUE(IsTransientClusterError(RedisReply::Error("CLUSTERDOWN The cluster is down")));
  EXPECT_TRUE(IsTransientClusterError(RedisReply::Error("TRYAGAIN Multiple keys request")));
  EXPECT_FALSE(IsTransientClusterError(RedisReply::Error("READONLY")));
}

}  // namespace
}  // namespace keycache
