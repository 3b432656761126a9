// L1Invalidator: the InvalidationSink of this instance's L1. It drops the changed entries (and
// refuses fills in flight for them) at once, on the announcing thread, so the instance that made
// a change never serves the old state again; it is always in force when it returns.
// Thread-safe (L1Cache is).
#pragma once

#include "cache/l1_cache.h"
#include "core/invalidation_sink.h"

namespace keycache {

class L1Invalidator final : public InvalidationSink {
 public:
  explicit L1Invalidator(L1Cache& l1) : l1_(l1) {}

  void Announce(const CacheChange& c, PropagationDone done) override {
    switch (c.kind) {
      case CacheChange::Kind::kKey:
        l1_.InvalidateKey(c.id);
        l1_.InvalidateOwner(c.owner);
        break;
      case CacheChange::Kind::kOwner:
        l1_.InvalidateOwner(c.owner);
        break;
      case CacheChange::Kind::kType:
        l1_.Clear(c.type);
        break;
      case CacheChange::Kind::kAll:
        l1_.ClearAll();
        break;
    }
    if (done) done(Propagation::InForce());
  }

 private:
  L1Cache& l1_;
};

}  // namespace keycache
