#include "l2/l2_metrics.h"

namespace keycache {
namespace {

constexpr const char* kOpNames[kL2OpCount] = {"read_validation", "write_validation",
                                              "read_user_list",  "write_user_list",
                                              "invalidate",      "usage",
                                              "heartbeat",       "scan"};
constexpr const char* kResultNames[kL2ResultCount] = {"hit", "miss",  "stale",   "corrupt",
                                                      "ok",  "error", "refused", "skipped"};

}  // namespace

L2Metrics::L2Metrics(Registry& registry) {
  auto& ops =
      registry.AddCounter("keycache_l2_operations_total",
                          "Redis (L2) operations by kind and outcome.", {"operation", "result"});
  for (int o = 0; o < kL2OpCount; ++o) {
    for (int r = 0; r < kL2ResultCount; ++r) ops_[o][r] = &ops.With({kOpNames[o], kResultNames[r]});
  }
  breaker_opened_ = &registry
                         .AddCounter("keycache_redis_breaker_opened_total",
                                     "Times the Redis circuit breaker opened.")
                         .With({});
}

}  // namespace keycache
