#include "metrics/hit_rate_window.h"

#include "metrics/check.h"

namespace keycache {
namespace {

std::int64_t FloorDiv(TimeMs t, TimeMs d) { return t >= 0 ? t / d : -((-t + d - 1) / d); }

}  // namespace

HitRateWindow::HitRateWindow(const Clock& clock, int buckets, TimeMs bucket_ms)
    : clock_(clock), buckets_(buckets), bucket_ms_(bucket_ms), ring_(new Bucket[buckets]) {
  MetricsCheck(buckets > 0 && bucket_ms > 0, "HitRateWindow needs buckets > 0 and bucket_ms > 0");
}

void HitRateWindow::Record(AnsweredBy by, TimeMs now) {
  const std::int64_t epoch = FloorDiv(now, bucket_ms_);
  Bucket& b = ring_[static_cast<std::size_t>(epoch % buckets_ + buckets_) % buckets_];
  if (b.epoch.load(std::memory_order_acquire) != epoch) {
    std::lock_guard lock(turnover_mu_);
    const std::int64_t seen = b.epoch.load(std::memory_order_relaxed);
    if (seen < epoch) {  // never let a late thread roll a bucket back to an older epoch
      for (Slot& s : b.slots) {
        s.l1_hits.store(0, std::memory_order_relaxed);
        s.redis_hits.store(0, std::memory_order_relaxed);
        s.misses.store(0, std::memory_order_relaxed);
      }
      b.epoch.store(epoch, std::memory_order_release);
    } else if (seen > epoch) {
      return;  // this interval already left the window
    }
  }
  Slot& s = b.slots[ThisThreadSlot()];
  std::atomic<std::uint64_t>& cell = by == AnsweredBy::kL1      ? s.l1_hits
                                     : by == AnsweredBy::kRedis ? s.redis_hits
                                                                : s.misses;
  cell.fetch_add(1, std::memory_order_relaxed);
}

HitRateSnapshot HitRateWindow::Snapshot() const {
  const std::int64_t now_epoch = FloorDiv(clock_.NowMs(), bucket_ms_);
  HitRateSnapshot snap;
  for (int i = 0; i < buckets_; ++i) {
    const Bucket& b = ring_[i];
    const std::int64_t epoch = b.epoch.load(std::memory_order_acquire);
    if (epoch > now_epoch - buckets_ && epoch <= now_epoch) {
      for (const Slot& s : b.slots) {
        snap.l1_hits += s.l1_hits.load(std::memory_order_relaxed);
        snap.redis_hits += s.redis_hits.load(std::memory_order_relaxed);
        snap.misses += s.misses.load(std::memory_order_relaxed);
      }
    }
  }
  snap.hits = snap.l1_hits + snap.redis_hits;
  const std::uint64_t total = snap.lookups();
  if (total == 0) return snap;
  const auto share = [total](std::uint64_t n) {
    return static_cast<double>(n) / static_cast<double>(total);
  };
  snap.hit_rate = share(snap.hits);
  snap.l1_rate = share(snap.l1_hits);
  snap.redis_rate = share(snap.redis_hits);
  return snap;
}

}  // namespace keycache
