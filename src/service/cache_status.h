// Where a verification's answer came from, reported as X-Cache-Status.
#pragma once

#include <cstdint>
#include <string_view>

namespace keycache {

enum class CacheStatus : std::uint8_t {
  kHit,     // answered from the cache (positive or negative entry)
  kMiss,    // the cache was consulted, the store answered, the cache was filled
  kBypass,  // the cache was not consulted: disabled, emergency mode, or a malformed key
};

inline std::string_view CacheStatusName(CacheStatus s) {
  switch (s) {
    case CacheStatus::kHit:
      return "HIT";
    case CacheStatus::kMiss:
      return "MISS";
    case CacheStatus::kBypass:
      return "BYPASS";
  }
  return "BYPASS";
}

}  // namespace keycache
