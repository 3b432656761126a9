// InvalidationSink: where the lifecycle operations announce what changed, right after the store
// committed it and before the operation answers. The L1 sink drops local entries; the Redis tier
// adds a sink that clears L2 and tells the other instances. Implementations are thread-safe and
// must not block for long (they run on database worker threads).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "cache/l1_cache.h"
#include "core/key_id.h"

namespace keycache {

class InvalidationSink {
 public:
  virtual ~InvalidationSink() = default;
  // A key's verification facts changed (revoked, rotated, updated, deleted, created).
  virtual void KeyChanged(KeyId id, std::string_view owner_id) = 0;
  // An owner's key list changed without a particular key's facts changing.
  virtual void OwnerChanged(std::string_view owner_id) = 0;
  // An operator asked to drop a whole cache type, or everything.
  virtual void TypeCleared(CacheType type) = 0;
  virtual void AllCleared() = 0;
};

class L1Invalidator final : public InvalidationSink {
 public:
  explicit L1Invalidator(L1Cache& l1) : l1_(l1) {}
  void KeyChanged(KeyId id, std::string_view owner_id) override {
    l1_.InvalidateKey(id);
    l1_.InvalidateOwner(owner_id);
  }
  void OwnerChanged(std::string_view owner_id) override { l1_.InvalidateOwner(owner_id); }
  void TypeCleared(CacheType type) override { l1_.Clear(type); }
  void AllCleared() override { l1_.ClearAll(); }

 private:
  L1Cache& l1_;
};

// Forwards each event to every sink in order (L1 first, then shared tiers).
class FanOutInvalidator final : public InvalidationSink {
 public:
  void Add(InvalidationSink& sink) { sinks_.push_back(&sink); }
  void KeyChanged(KeyId id, std::string_view owner_id) override {
    for (auto* s : sinks_) s->KeyChanged(id, owner_id);
  }
  void OwnerChanged(std::string_view owner_id) override {
    for (auto* s : sinks_) s->OwnerChanged(owner_id);
  }
  void TypeCleared(CacheType type) override {
    for (auto* s : sinks_) s->TypeCleared(type);
  }
  void AllCleared() override {
    for (auto* s : sinks_) s->AllCleared();
  }

 private:
  std::vector<InvalidationSink*> sinks_;  // set at wiring time, read-only afterwards
};

}  // namespace keycache
