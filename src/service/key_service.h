// KeyService: the key lifecycle (create, read, list, update, revoke, rotate, delete, usage).
// Each mutation runs on the database pool as one job that commits to the store and then, on the
// same thread and before the caller hears back, announces the change to the InvalidationSink; so
// even a caller that timed out cannot leave a stale cache entry behind. Inputs are assumed
// validated by the API layer; this layer enforces what needs the store (limits, existence).
// Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cache/l1_cache.h"
#include "cache/usage_counter.h"
#include "core/key_hasher.h"
#include "core/key_record.h"
#include "l2/l2_cache.h"
#include "service/cache_status.h"
#include "service/db_executor.h"
#include "service/invalidation.h"
#include "service/service_metrics.h"
#include "store/key_store.h"
#include "util/clock.h"

namespace keycache {

struct KeyServiceOptions {
  std::string key_prefix = "ak";
  std::size_t max_keys_per_owner = 50;
  bool cache_enabled = true;
};

struct NewKey {
  std::string owner_id;
  std::string name;
  std::vector<std::string> scopes;
  TimeMs expires_at = kNever;
  std::string metadata_json;
};

struct CreatedKey {
  std::string key;  // plaintext, returned to the caller once
  KeyRecord record;
};

struct KeyUsage {
  std::uint64_t count = 0;
  TimeMs last_used_at = 0;
  std::string last_used_ip;
  // With the Redis tier: verifications counted by every instance in the current and the
  // previous minute (flushed counts only; Redis may have evicted them, so they are a view).
  std::optional<std::pair<std::uint64_t, std::uint64_t>> recent;
};

struct OwnerKeys {
  std::shared_ptr<const std::string> json;  // the rendered {"owner_id":..,"keys":[..]} body
  CacheStatus cache = CacheStatus::kBypass;
};

class KeyService {
 public:
  KeyService(KeyServiceOptions options, const KeyHasher& hasher, KeyStore& store, DbExecutor& db,
             L1Cache& l1, UsageCounter& usage, InvalidationSink& invalidation,
             ServiceMetrics& metrics, const Clock& clock, L2Cache* l2 = nullptr);

  boost::asio::awaitable<Result<CreatedKey>> Create(NewKey request);
  boost::asio::awaitable<Result<KeyRecord>> Get(KeyId id);
  boost::asio::awaitable<Result<OwnerKeys>> ListByOwner(std::string owner_id);
  boost::asio::awaitable<Result<KeyRecord>> Update(KeyId id, KeyPatch patch);
  boost::asio::awaitable<Result<KeyRecord>> Revoke(KeyId id, std::string reason);
  // The old key keeps working for grace_ms, then never again.
  boost::asio::awaitable<Result<CreatedKey>> Rotate(KeyId id, TimeMs grace_ms);
  boost::asio::awaitable<Result<KeyRecord>> Delete(KeyId id);
  // Stored usage plus what is counted in memory and not yet flushed.
  boost::asio::awaitable<Result<KeyUsage>> Usage(KeyId id);

 private:
  const KeyServiceOptions options_;
  const KeyHasher& hasher_;
  KeyStore& store_;
  DbExecutor& db_;
  L1Cache& l1_;
  UsageCounter& usage_;
  InvalidationSink& invalidation_;
  ServiceMetrics& metrics_;
  const Clock& clock_;
  L2Cache* const l2_;  // null without the Redis tier
};

}  // namespace keycache
