// L1Invalidator: the InvalidationSink of this instance's L1. It drops the changed entries (and
// refuses fills in flight for them) at once, on the announcing thread, so the instance that made
// a change never serves the old state again; it is always in force when it returns.
// Thread-safe (L1Cache is).
#pragma once

#include "cache/l1_cache.h"
#include "core/invalidation_sink.h"

namespace keycache {

// Drops what `c` changed from `l1`: this instance's own changes (L1Invalidator) and those heard
// from other instances (l2/InvalidationListener) go through this one mapping.
inline void ApplyToL1(L1Cache& l1, const CacheChange& c) {
  switch (c.kind) {
    case CacheChange::Kind::kKey:
      l1.InvalidateKey(c.id);
      if (!c.owner.empty()) l1.InvalidateOwner(c.owner);
      break;
    case CacheChange::Kind::kOwner:
      l1.InvalidateOwner(c.owner);
      break;
    case CacheChange::Kind::kType:
      l1.Clear(c.type);
      break;
    case CacheChange::Kind::kAll:
      l1.ClearAll();
      break;
  }
}

class L1Invalidator final : public InvalidationSink {
 public:
  explicit L1Invalidator(L1Cache& l1) : l1_(l1) {}

  void Announce(const CacheChange& c, PropagationDone done) override {
    ApplyToL1(l1_, c);
    if (done) done(Propagation::InForce());
  }

 private:
  L1Cache& l1_;
};

}  // namespace keycache
