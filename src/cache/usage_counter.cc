#include "cache/usage_counter.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "cache/hash_mix.h"

namespace keycache {

UsageCounter::UsageCounter(std::size_t shards)
    : shard_count_(std::bit_ceil(std::max<std::size_t>(shards, 1))),
      shards_(std::make_unique<Shard[]>(shard_count_)) {}

UsageCounter::Shard& UsageCounter::ShardFor(KeyId id) const {
  return shards_[MixHash(id) & (shard_count_ - 1)];
}

void UsageCounter::Record(KeyId id, TimeMs now, std::string_view ip) {
  Shard& s = ShardFor(id);
  std::lock_guard lock(s.mu);
  Usage& u = s.pending[id];
  if (u.count++ == 0) {
    ++s.active;
    u.last_used_ip.clear();  // a kept entry starts as a fresh one would (keeps its capacity)
  }
  if (now >= u.last_used_at) {
    u.last_used_at = now;
    u.last_used_ip.assign(ip);  // reuses the kept entry's capacity
  }
}

std::vector<UsageDelta> UsageCounter::Drain() {
  std::vector<UsageDelta> out;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    Shard& s = shards_[i];
    std::lock_guard lock(s.mu);
    out.reserve(out.size() + s.active);
    for (auto it = s.pending.begin(); it != s.pending.end();) {
      Usage& u = it->second;
      if (u.count == 0) {
        it = s.pending.erase(it);  // unused for a whole interval: let it go
        continue;
      }
      out.push_back(UsageDelta{it->first, u.count, u.last_used_at, u.last_used_ip});
      u.count = 0;
      u.last_used_at = 0;  // as good as a fresh entry: the next use sets time and IP
      ++it;
    }
    s.active = 0;
  }
  return out;
}

void UsageCounter::Restore(std::vector<UsageDelta> deltas) {
  for (UsageDelta& d : deltas) {
    if (d.count == 0) continue;
    Shard& s = ShardFor(d.id);
    std::lock_guard lock(s.mu);
    Usage& u = s.pending[d.id];
    if (u.count == 0) {
      ++s.active;
      u.last_used_ip.clear();  // a kept entry starts as a fresh one would
    }
    u.count += d.count;
    if (d.last_used_at > u.last_used_at) {
      u.last_used_at = d.last_used_at;
      u.last_used_ip = std::move(d.last_used_ip);
    }
  }
}

std::optional<UsageDelta> UsageCounter::Pending(KeyId id) const {
  Shard& s = ShardFor(id);
  std::lock_guard lock(s.mu);
  auto it = s.pending.find(id);
  if (it == s.pending.end() || it->second.count == 0) return std::nullopt;
  return UsageDelta{id, it->second.count, it->second.last_used_at, it->second.last_used_ip};
}

std::size_t UsageCounter::Size() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mu);
    total += shards_[i].active;
  }
  return total;
}

}  // namespace keycache
