#include "service/cache_warmer.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "service/completion.h"

namespace keycache {

boost::asio::awaitable<Result<WarmResult>> CacheWarmer::Warm() {
  auto timer = metrics_.StartTimer();
  const TimeMs now = clock_.NowMs();
  auto top = co_await db_.Read([this, now] { return store_.TopByUsage(limit_, now); });
  if (!top) {
    metrics_.CacheError(CacheType::kValidation, CacheOp::kWarm);
    co_return top.error();
  }
  WarmResult result;
  result.candidates = top->size();
  std::set<std::string> owners;
  for (const auto& candidate : *top) {
    auto warmed = co_await verifier_.Warm(candidate.id);
    if (!warmed) {
      metrics_.CacheError(CacheType::kValidation, CacheOp::kWarm);
      co_return warmed.error();
    }
    if (!warmed->answer.found()) continue;  // deleted since it was used
    const KeyFacts& facts = warmed->answer.facts();
    ++result.keys;
    ++(warmed->status == CacheStatus::kHit ? result.from_redis : result.from_database);
    result.scope_decisions += warmed->scope_decisions;
    owners.insert(facts.owner_id);
  }
  for (const std::string& owner : owners) {
    auto listed = co_await keys_.WarmOwnerList(owner);
    if (!listed) {
      metrics_.CacheError(CacheType::kUserList, CacheOp::kWarm);
      co_return listed.error();
    }
    ++result.owner_lists;
  }
  metrics_.ObserveOperation(CacheOp::kWarm, CacheType::kValidation, timer);
  log_.Info("cache_warmed", {{"candidates", std::to_string(result.candidates)},
                             {"keys", std::to_string(result.keys)},
                             {"from_redis", std::to_string(result.from_redis)},
                             {"from_database", std::to_string(result.from_database)},
                             {"owner_lists", std::to_string(result.owner_lists)}});
  co_return result;
}

void CacheWarmer::WarmInBackground(boost::asio::any_io_executor executor, std::string reason) {
  boost::asio::co_spawn(
      executor,
      [this, reason = std::move(reason)]() -> boost::asio::awaitable<void> {
        if (auto warmed = co_await Warm(); !warmed) {
          log_.Warn("cache_warm_failed", {{"reason", reason}, {"error", warmed.error().message()}});
        }
      },
      boost::asio::detached);
}

boost::asio::awaitable<std::optional<bool>> CacheWarmer::AskOthers(
    std::chrono::milliseconds timeout) {
  if (!broadcast_) co_return std::nullopt;
  auto done = std::make_shared<Completion<bool>>(co_await boost::asio::this_coro::executor);
  broadcast_([done](bool sent) { done->Set(sent); });
  const std::optional<bool> sent = co_await done->Wait(timeout);
  co_return sent.value_or(false);
}

}  // namespace keycache
