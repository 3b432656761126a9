#include "redis/cluster_slots.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

namespace keycache {
namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<long long> IntegerOf(const RedisReply& r) {
  if (r.is_integer()) return r.integer;
  if (!r.is_string() && !r.is_status()) return std::nullopt;
  long long v = 0;
  auto [end, ec] = std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
  if (ec != std::errc() || end != r.str.data() + r.str.size()) return std::nullopt;
  return v;
}

std::optional<std::size_t> ParseSize(std::string_view s) {
  std::size_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// A flat RESP2 map ([k1, v1, k2, v2, ...]): the value of `key`, or null.
const RedisReply* Field(const RedisReply& map, std::string_view key) {
  if (!map.is_array()) return nullptr;
  for (std::size_t i = 0; i + 1 < map.elements.size(); i += 2) {
    if (map.elements[i].text() == key) return &map.elements[i + 1];
  }
  return nullptr;
}

bool ValidRange(long long start, long long end) {
  return start >= 0 && end >= start && end < static_cast<long long>(kClusterSlots);
}

Errc BadInput() { return Errc::kBadInput; }

}  // namespace

std::uint16_t Crc16(std::string_view data) {
  std::uint16_t crc = 0;
  for (unsigned char byte : data) {
    crc ^= static_cast<std::uint16_t>(byte) << 8;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

std::uint16_t KeySlot(std::string_view key) {
  const std::size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const std::size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return static_cast<std::uint16_t>(Crc16(key) % kClusterSlots);
}

CommandInfo ClassifyCommand(const std::vector<std::string_view>& args) {
  if (args.empty()) return {};
  const std::string_view name = args[0];
  if (EqualsNoCase(name, "PUBLISH")) {
    return args.size() >= 2 ? CommandInfo{CommandRoute::kChannel, 1} : CommandInfo{};
  }
  if (EqualsNoCase(name, "WAIT") || EqualsNoCase(name, "ASKING")) {
    return {CommandRoute::kSticky, 0};
  }
  static constexpr std::string_view kKeyless[] = {
      "PING",     "ECHO",     "SCAN",    "INFO", "CLUSTER", "DBSIZE",    "TIME",       "CLIENT",
      "AUTH",     "SELECT",   "HELLO",   "ROLE", "COMMAND", "SUBSCRIBE", "PSUBSCRIBE", "RANDOMKEY",
      "LASTSAVE", "FLUSHALL", "FLUSHDB", "KEYS", "SCRIPT",  "FUNCTION",  "READONLY",   "READWRITE",
      "MULTI",    "EXEC",     "DISCARD", "QUIT", "ACL",     "SLOWLOG",   "LATENCY"};
  for (std::string_view k : kKeyless) {
    if (EqualsNoCase(name, k)) return {};
  }
  // Subcommand forms with the key second: MEMORY USAGE key, OBJECT ENCODING key, XINFO ...
  if (EqualsNoCase(name, "MEMORY") || EqualsNoCase(name, "OBJECT") || EqualsNoCase(name, "XINFO")) {
    return args.size() >= 3 ? CommandInfo{CommandRoute::kKey, 2} : CommandInfo{};
  }
  // EVAL/EVALSHA/FCALL script numkeys key...: the first key, if any.
  if (EqualsNoCase(name, "EVAL") || EqualsNoCase(name, "EVALSHA") || EqualsNoCase(name, "FCALL")) {
    if (args.size() >= 4 && args[2] != "0") return {CommandRoute::kKey, 3};
    return {};
  }
  return args.size() >= 2 ? CommandInfo{CommandRoute::kKey, 1} : CommandInfo{};
}

Result<std::vector<std::vector<std::string_view>>> DecodeCommands(const RedisRequest& request) {
  const std::string_view p = request.payload();
  std::vector<std::vector<std::string_view>> out;
  out.reserve(request.size());
  std::size_t pos = 0;
  auto header = [&](char kind) -> std::optional<std::size_t> {
    if (pos >= p.size() || p[pos] != kind) return std::nullopt;
    const std::size_t eol = p.find("\r\n", pos);
    if (eol == std::string_view::npos) return std::nullopt;
    auto n = ParseSize(p.substr(pos + 1, eol - pos - 1));
    pos = eol + 2;
    return n;
  };
  while (pos < p.size()) {
    const auto argc = header('*');
    if (!argc) return BadInput();
    std::vector<std::string_view> args;
    args.reserve(*argc);
    for (std::size_t i = 0; i < *argc; ++i) {
      const auto len = header('$');
      if (!len || pos + *len + 2 > p.size() || p.substr(pos + *len, 2) != "\r\n") {
        return BadInput();
      }
      args.push_back(p.substr(pos, *len));
      pos += *len + 2;
    }
    out.push_back(std::move(args));
  }
  if (out.size() != request.size()) return BadInput();
  return out;
}

bool SlotMap::Complete() const {
  return std::none_of(owner.begin(), owner.end(), [](std::uint16_t o) { return o == kNoNode; });
}

std::vector<RedisEndpoint> SlotMap::AllNodes() const {
  std::vector<RedisEndpoint> out;
  for (const Shard& s : shards) out.push_back(s.primary);
  for (const Shard& s : shards) {
    for (const RedisEndpoint& r : s.replicas) {
      if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
    }
  }
  return out;
}

void SlotMap::Assign(std::uint16_t slot, const RedisEndpoint& node) {
  for (std::size_t i = 0; i < shards.size(); ++i) {
    if (shards[i].primary == node) {
      owner[slot] = static_cast<std::uint16_t>(i);
      return;
    }
  }
  shards.push_back(Shard{node, {}});
  owner[slot] = static_cast<std::uint16_t>(shards.size() - 1);
}

Result<SlotMap> ParseClusterShards(const RedisReply& reply, bool use_tls_port) {
  if (!reply.is_array()) return BadInput();
  SlotMap map;
  for (const RedisReply& shard : reply.elements) {
    const RedisReply* slots = Field(shard, "slots");
    const RedisReply* nodes = Field(shard, "nodes");
    if (!slots || !nodes || !slots->is_array() || !nodes->is_array() ||
        slots->elements.size() % 2 != 0) {
      return BadInput();
    }
    if (slots->elements.empty()) continue;  // a failed primary whose slots moved, a new node
    SlotMap::Shard parsed;
    int best = -1;  // 2: online master, 1: master
    for (const RedisReply& node : nodes->elements) {
      const RedisReply* role = Field(node, "role");
      const RedisReply* health = Field(node, "health");
      const RedisReply* endpoint = Field(node, "endpoint");
      const RedisReply* ip = Field(node, "ip");
      const RedisReply* port = Field(node, "port");
      const RedisReply* tls_port = Field(node, "tls-port");
      if (!role) return BadInput();
      std::string host(endpoint && !endpoint->text().empty() && endpoint->text() != "?"
                           ? endpoint->text()
                           : (ip ? ip->text() : std::string_view()));
      const RedisReply* chosen_port = use_tls_port && tls_port ? tls_port : port;
      const auto number = chosen_port ? IntegerOf(*chosen_port) : std::nullopt;
      if (host.empty() || !number || *number <= 0 || *number > 65535) return BadInput();
      RedisEndpoint e{std::move(host), static_cast<std::uint16_t>(*number)};
      if (role->text() == "master") {
        const int rank = health && health->text() == "online" ? 2 : 1;
        if (rank > best) {
          if (best >= 0) parsed.replicas.push_back(parsed.primary);
          parsed.primary = std::move(e);
          best = rank;
        } else {
          parsed.replicas.push_back(std::move(e));
        }
      } else {
        parsed.replicas.push_back(std::move(e));
      }
    }
    if (best < 0) return BadInput();
    const auto index = static_cast<std::uint16_t>(map.shards.size());
    for (std::size_t i = 0; i < slots->elements.size(); i += 2) {
      const auto start = IntegerOf(slots->elements[i]);
      const auto end = IntegerOf(slots->elements[i + 1]);
      if (!start || !end || !ValidRange(*start, *end)) return BadInput();
      for (long long s = *start; s <= *end; ++s) map.owner[static_cast<std::size_t>(s)] = index;
    }
    map.shards.push_back(std::move(parsed));
  }
  return map;
}

Result<SlotMap> ParseClusterSlots(const RedisReply& reply) {
  if (!reply.is_array()) return BadInput();
  SlotMap map;
  std::map<RedisEndpoint, std::uint16_t> index_of;
  auto node_of = [](const RedisReply& n) -> std::optional<RedisEndpoint> {
    if (!n.is_array() || n.elements.size() < 2) return std::nullopt;
    const auto port = IntegerOf(n.elements[1]);
    if (n.elements[0].text().empty() || !port || *port <= 0 || *port > 65535) return std::nullopt;
    return RedisEndpoint{std::string(n.elements[0].text()), static_cast<std::uint16_t>(*port)};
  };
  for (const RedisReply& range : reply.elements) {
    if (!range.is_array() || range.elements.size() < 3) return BadInput();
    const auto start = IntegerOf(range.elements[0]);
    const auto end = IntegerOf(range.elements[1]);
    const auto primary = node_of(range.elements[2]);
    if (!start || !end || !ValidRange(*start, *end) || !primary) return BadInput();
    auto [it, added] = index_of.emplace(*primary, static_cast<std::uint16_t>(map.shards.size()));
    if (added) map.shards.push_back(SlotMap::Shard{*primary, {}});
    SlotMap::Shard& shard = map.shards[it->second];
    for (std::size_t i = 3; i < range.elements.size(); ++i) {
      const auto replica = node_of(range.elements[i]);
      if (!replica) return BadInput();
      if (std::find(shard.replicas.begin(), shard.replicas.end(), *replica) ==
          shard.replicas.end()) {
        shard.replicas.push_back(*replica);
      }
    }
    for (long long s = *start; s <= *end; ++s) map.owner[static_cast<std::size_t>(s)] = it->second;
  }
  return map;
}

std::optional<Redirect> ParseRedirect(const RedisReply& reply) {
  if (!reply.is_error()) return std::nullopt;
  std::string_view text = reply.str;
  Redirect r;
  if (text.starts_with("MOVED ")) {
    text.remove_prefix(6);
  } else if (text.starts_with("ASK ")) {
    r.ask = true;
    text.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const std::size_t space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto slot = ParseSize(text.substr(0, space));
  auto target = ParseEndpoint(text.substr(space + 1));
  if (!slot || *slot >= kClusterSlots || !target) return std::nullopt;
  r.slot = static_cast<std::uint16_t>(*slot);
  r.target = std::move(*target);
  return r;
}

bool IsTransientClusterError(const RedisReply& reply) {
  return reply.is_error() &&
         (reply.str.starts_with("TRYAGAIN") || reply.str.starts_with("CLUSTERDOWN"));
}

}  // namespace keycache
