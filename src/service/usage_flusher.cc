#include "service/usage_flusher.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>

namespace keycache {

Result<std::size_t> UsageFlusher::FlushOnce() {
  std::vector<UsageDelta> batch = usage_.Drain();
  if (batch.empty()) return std::size_t{0};
  auto timer = metrics_.StartTimer();
  auto written = store_.AddUsage(batch);
  metrics_.ObserveOperation(CacheOp::kFlush, CacheType::kUsage, timer);
  if (!written) {
    metrics_.CacheError(CacheType::kUsage, CacheOp::kFlush);
    log_.Warn("usage_flush_failed",
              {{"keys", std::to_string(batch.size())}, {"error", written.error().message()}});
    usage_.Restore(std::move(batch));
    return written.error();
  }
  if (shared_) {
    TimeMs latest = 0;
    for (const UsageDelta& d : batch) latest = std::max(latest, d.last_used_at);
    shared_->AddUsage(batch, latest);
  }
  return batch.size();
}

boost::asio::awaitable<void> UsageFlusher::Run(std::chrono::milliseconds interval, DbExecutor& db,
                                               const std::atomic<bool>& stop) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  while (!stop.load(std::memory_order_acquire)) {
    timer.expires_after(interval);
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (stop.load(std::memory_order_acquire)) break;
    // A timeout here only means the batch is still being written; it will land.
    auto flush = [this] { return FlushOnce(); };
    co_await db.RunBackground(std::move(flush));
  }
}

}  // namespace keycache
