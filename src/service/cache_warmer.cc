#include "service/cache_warmer.h"

#include <algorithm>
#include <string>
#include <vector>

namespace keycache {

Result<WarmResult> CacheWarmer::Warm() {
  auto timer = metrics_.StartTimer();
  auto top = store_.TopByUsage(limit_, clock_.NowMs());
  if (!top) {
    metrics_.CacheError(CacheType::kValidation, CacheOp::kWarm);
    return top.error();
  }
  WarmResult result;
  result.candidates = top->size();
  for (std::size_t begin = 0; begin < top->size(); begin += chunk_) {
    const std::size_t end = std::min(top->size(), begin + chunk_);
    std::vector<decltype(l1_.BeginFactsFill(KeyId{}))> tickets;
    tickets.reserve(end - begin);
    for (std::size_t i = begin; i < end; ++i) tickets.push_back(l1_.BeginFactsFill((*top)[i].id));
    for (std::size_t i = begin; i < end; ++i) {
      const KeyId id = (*top)[i].id;
      auto fresh = store_.FindById(id);  // read after the ticket: see the header
      if (!fresh) {
        metrics_.CacheError(CacheType::kValidation, CacheOp::kWarm);
        return fresh.error();
      }
      if (!*fresh) continue;
      auto facts = std::make_shared<const KeyFacts>(KeyFacts::From(**fresh));
      if (l1_.CompleteFactsFill(id, std::move(facts), tickets[i - begin])) ++result.loaded;
    }
  }
  metrics_.ObserveOperation(CacheOp::kWarm, CacheType::kValidation, timer);
  log_.Info("cache_warmed", {{"candidates", std::to_string(result.candidates)},
                             {"loaded", std::to_string(result.loaded)}});
  return result;
}

}  // namespace keycache
