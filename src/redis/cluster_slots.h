// Redis Cluster key routing, pure logic: CRC16 (XMODEM) and the slot of a key with its hash tag,
// which argument of a command is its first key, the slot map read from CLUSTER SHARDS (or
// CLUSTER SLOTS), the MOVED/ASK redirections, and the decoding of an encoded RedisRequest back
// into its commands (so a pipeline can be split by node). Plain values and free functions;
// nothing is synchronised.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_endpoint.h"
#include "redis/redis_request.h"
#include "redis/resp_reply.h"
#include "util/error.h"

namespace keycache {

inline constexpr std::size_t kClusterSlots = 16384;

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as in the Redis Cluster spec.
std::uint16_t Crc16(std::string_view data);
// The slot of `key`: CRC16 of the hash tag (between the first '{' and the first '}' after it,
// when that is not empty), else of the whole key, modulo 16384.
std::uint16_t KeySlot(std::string_view key);

// How a command is routed in a cluster.
enum class CommandRoute : std::uint8_t {
  kKey,      // by the slot of the argument at key_index
  kChannel,  // PUBLISH: by the slot of the channel name, so every instance publishes through
             // the same node (see docs/adr/0003-redis-tier.md, "Cluster")
  kSticky,   // WAIT, ASKING: on the node of the command just before it
  kAnyNode,  // no key (PING, SCAN, INFO, ...): any node, after every command before it replied
};
struct CommandInfo {
  CommandRoute route = CommandRoute::kAnyNode;
  std::size_t key_index = 0;  // for kKey and kChannel: the argument holding the key/channel
};
// `args[0]` is the command name (any case).
CommandInfo ClassifyCommand(const std::vector<std::string_view>& args);

// The commands of an encoded request (views into request.payload(): keep the request alive);
// Errc::kBadInput if the payload is not a sequence of RESP arrays of bulk strings.
Result<std::vector<std::vector<std::string_view>>> DecodeCommands(const RedisRequest& request);

// Which primary serves each slot. Slots nobody serves (a shard failing with no replica, a
// cluster being built) map to kNoNode.
struct SlotMap {
  static constexpr std::uint16_t kNoNode = 0xffff;
  struct Shard {
    RedisEndpoint primary;
    std::vector<RedisEndpoint> replicas;
  };
  std::vector<Shard> shards;                       // the ones with slots
  std::array<std::uint16_t, kClusterSlots> owner;  // index into shards, or kNoNode

  SlotMap() { owner.fill(kNoNode); }
  const RedisEndpoint* PrimaryOf(std::uint16_t slot) const {
    const std::uint16_t i = owner[slot];
    return i == kNoNode ? nullptr : &shards[i].primary;
  }
  bool Complete() const;  // every slot has an owner
  // Every node, primaries first (where a subscriber or a refresh may go).
  std::vector<RedisEndpoint> AllNodes() const;
  // Points `slot` at `node` (after a MOVED), adding a shard for it if it is new.
  void Assign(std::uint16_t slot, const RedisEndpoint& node);
};

// The reply to CLUSTER SHARDS (Redis 7) into a map. In each shard with slots the primary is the
// node with role "master" (preferring health "online"); `use_tls_port`: address nodes by their
// tls-port when they report one. Errc::kBadInput on an unexpected shape.
Result<SlotMap> ParseClusterShards(const RedisReply& reply, bool use_tls_port);
// The reply to CLUSTER SLOTS (Redis 3+): [[start, end, [ip, port, id], [replica]...], ...].
Result<SlotMap> ParseClusterSlots(const RedisReply& reply);

// "MOVED <slot> <host:port>" or "ASK <slot> <host:port>".
struct Redirect {
  bool ask = false;  // ASK: this command only, after ASKING; MOVED: the slot has moved
  std::uint16_t slot = 0;
  RedisEndpoint target;
};
std::optional<Redirect> ParseRedirect(const RedisReply& reply);
// TRYAGAIN (a multi-key command during a migration) or CLUSTERDOWN (the cluster is failing
// over or lost slots): worth retrying after a short pause.
bool IsTransientClusterError(const RedisReply& reply);

}  // namespace keycache
