#include "cache/usage_counter.h"

#include <algorithm>
#include <bit>
#include <unordered_set>
#include <utility>

#include "util/thread_slot.h"

namespace keycache {

UsageCounter::UsageCounter(std::size_t shards)
    : shard_count_(std::bit_ceil(std::max<std::size_t>(shards, 1))),
      shards_(std::make_unique<Shard[]>(shard_count_)) {}

UsageCounter::Shard& UsageCounter::ThisThreadsShard() const {
  return shards_[ThisThreadSlot() & (shard_count_ - 1)];
}

void UsageCounter::Record(KeyId id, TimeMs now, std::string_view ip) {
  Shard& s = ThisThreadsShard();
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
        s.pending.erase(it++);  // unused for a whole interval: let it go (others stay put)
        continue;
      }
      out.push_back(UsageDelta{it->first, u.count, u.last_used_at, u.last_used_ip});
      u.count = 0;
      u.last_used_at = 0;  // as good as a fresh entry: the next use sets time and IP
      ++it;
    }
    s.active = 0;
  }
  if (shard_count_ == 1) return out;
  // One delta per key: a key used on several threads has an entry in each of their shards.
  std::sort(out.begin(), out.end(),
            [](const UsageDelta& a, const UsageDelta& b) { return a.id < b.id; });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (kept > 0 && out[kept - 1].id == out[i].id) {
      MergeUses(out[kept - 1], out[i].count, out[i].last_used_at, std::move(out[i].last_used_ip));
    } else {
      if (kept != i) out[kept] = std::move(out[i]);
      ++kept;
    }
  }
  out.resize(kept);
  return out;
}

void UsageCounter::MergeLocked(Shard& s, UsageDelta d) {
  Usage& u = s.pending[d.id];
  if (u.count == 0) {
    ++s.active;
    u.last_used_at = 0;
    u.last_used_ip.clear();  // a kept entry starts as a fresh one would
  }
  MergeUses(u, d.count, d.last_used_at, std::move(d.last_used_ip));
}

void UsageCounter::Restore(std::vector<UsageDelta> deltas) {
  Shard& s = ThisThreadsShard();
  std::lock_guard lock(s.mu);
  for (UsageDelta& d : deltas) {
    if (d.count != 0) MergeLocked(s, std::move(d));
  }
}

std::optional<UsageDelta> UsageCounter::Pending(KeyId id) const {
  std::optional<UsageDelta> total;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    Shard& s = shards_[i];
    std::lock_guard lock(s.mu);
    auto it = s.pending.find(id);
    if (it == s.pending.end() || it->second.count == 0) continue;
    const Usage& u = it->second;
    if (!total) {
      total = UsageDelta{id, u.count, u.last_used_at, u.last_used_ip};
      continue;
    }
    MergeUses(*total, u.count, u.last_used_at, u.last_used_ip);
  }
  return total;
}

std::size_t UsageCounter::Size() const {
  // A key used on several threads has an entry in each of their shards: count it once.
  std::unordered_set<KeyId> ids;
  std::size_t single = 0;
  std::size_t shards_with_entries = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mu);
    if (shards_[i].active == 0) continue;
    ++shards_with_entries;
    single = shards_[i].active;
    for (const auto& [id, u] : shards_[i].pending) {
      if (u.count > 0) ids.insert(id);
    }
  }
  return shards_with_entries <= 1 ? single : ids.size();
}

}  // namespace keycache
