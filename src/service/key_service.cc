#include "service/key_service.h"

#include <algorithm>

#include "core/api_key.h"
#include "service/key_json.h"

namespace keycache {
namespace {

// Each database job below is a named lambda moved into DbExecutor::Run, never a temporary
// written inside the co_await expression: g++ 12 can destroy such a temporary twice
// (docs/adr/0002-gcc12-coroutine-temporaries.md).

// Two random 64-bit ids colliding is unlikely; a few retries make it impossible in practice.
constexpr int kMaxIdAttempts = 4;

}  // namespace

KeyService::KeyService(KeyServiceOptions options, const KeyHasher& hasher, KeyStore& store,
                       DbExecutor& db, L1Cache& l1, UsageCounter& usage,
                       InvalidationSink& invalidation, ServiceMetrics& metrics, const Clock& clock,
                       L2Cache* l2)
    : options_(std::move(options)),
      hasher_(hasher),
      store_(store),
      db_(db),
      l1_(l1),
      usage_(usage),
      invalidation_(invalidation),
      metrics_(metrics),
      clock_(clock),
      l2_(l2) {}

boost::asio::awaitable<Result<CreatedKey>> KeyService::Create(NewKey request) {
  auto job = [this, request = std::move(request)]() -> Result<CreatedKey> {
    for (int attempt = 0; attempt < kMaxIdAttempts; ++attempt) {
      auto generated = GenerateKey(options_.key_prefix);
      if (!generated) return generated.error();
      const TimeMs now = clock_.NowMs();
      KeyRecord record;
      record.id = generated->id;
      record.owner_id = request.owner_id;
      record.name = request.name;
      record.scopes = request.scopes;
      record.hash = hasher_.Hash(generated->key);
      record.created_at = record.updated_at = now;
      record.expires_at = request.expires_at;
      record.metadata_json = request.metadata_json;
      auto inserted = store_.Insert(record, options_.max_keys_per_owner);
      if (inserted.has_error() && inserted.error() == Errc::kConflict) continue;  // id taken
      if (!inserted) return inserted.error();
      // The id may sit in the negative cache if someone probed it before it existed.
      invalidation_.KeyChanged(record.id, record.owner_id);
      return CreatedKey{std::move(generated->key), std::move(record)};
    }
    return make_error_code(Errc::kConflict);
  };
  co_return co_await db_.Run(std::move(job));
}

boost::asio::awaitable<Result<KeyRecord>> KeyService::Get(KeyId id) {
  auto job = [this, id]() -> Result<KeyRecord> {
    auto found = store_.FindById(id);
    if (!found) return found.error();
    if (!*found) return make_error_code(Errc::kNotFound);
    return std::move(**found);
  };
  co_return co_await db_.Run(std::move(job));
}

boost::asio::awaitable<Result<OwnerKeys>> KeyService::ListByOwner(std::string owner_id) {
  if (options_.cache_enabled) {
    if (auto cached = l1_.GetUserList(owner_id)) {
      metrics_.UserListLookup(true);
      co_return OwnerKeys{*cached, CacheStatus::kHit};
    }
    metrics_.UserListLookup(false);
  }
  auto job = [this, owner_id = std::move(owner_id)]() -> Result<OwnerKeys> {
    auto ticket = l1_.BeginUserListFill(owner_id);
    std::optional<std::uint64_t> generation;
    if (l2_ && options_.cache_enabled) {
      if (auto shared = l2_->ReadUserListSync(owner_id)) {
        generation = shared->generation;
        if (shared->hit) {
          auto json = std::make_shared<const std::string>(std::move(shared->body));
          if (l1_.CompleteUserListFill(owner_id, json, ticket)) {
            return OwnerKeys{std::move(json), CacheStatus::kHit};
          }
          generation.reset();  // overtaken by a change: read the store
          ticket = l1_.BeginUserListFill(owner_id);
        }
      }
    }
    auto started = ServiceMetrics::StartTimer();
    auto keys = store_.ListByOwner(owner_id);
    metrics_.ObserveOperation(CacheOp::kLoad, CacheType::kUserList, started);
    if (!keys) {
      metrics_.CacheError(CacheType::kUserList, CacheOp::kLoad);
      return keys.error();
    }
    const TimeMs now = clock_.NowMs();
    auto json = std::make_shared<const std::string>(RenderOwnerKeys(owner_id, *keys, now));
    if (!options_.cache_enabled) return OwnerKeys{std::move(json), CacheStatus::kBypass};
    // The list shows each key's state: cache it no longer than the next time one changes alone.
    TimeMs next_change = kNever;
    for (const KeyRecord& k : *keys) {
      if (k.expires_at > now) next_change = std::min(next_change, k.expires_at);
      if (k.revoked_at > now) next_change = std::min(next_change, k.revoked_at);
    }
    const bool filled = l1_.CompleteUserListFill(owner_id, json, ticket, next_change);
    // Shared only while no listed key is about to change state by itself; such lists are
    // rare and cheap to render again.
    if (filled && generation && next_change == kNever) {
      l2_->WriteUserList(owner_id, *generation, *json);
    }
    const CacheStatus status = l2_ && !generation ? CacheStatus::kBypass : CacheStatus::kMiss;
    return OwnerKeys{std::move(json), status};
  };
  co_return co_await db_.Run(std::move(job));
}

boost::asio::awaitable<Result<KeyRecord>> KeyService::Update(KeyId id, KeyPatch patch) {
  auto job = [this, id, patch = std::move(patch)]() -> Result<KeyRecord> {
    auto updated = store_.Update(id, patch, clock_.NowMs());
    if (updated) invalidation_.KeyChanged(id, updated->owner_id);
    return updated;
  };
  co_return co_await db_.Run(std::move(job));
}

boost::asio::awaitable<Result<KeyRecord>> KeyService::Revoke(KeyId id, std::string reason) {
  auto job = [this, id, reason = std::move(reason)]() -> Result<KeyRecord> {
    const TimeMs now = clock_.NowMs();
    auto revoked = store_.Revoke(id, now, reason, now);
    if (revoked) invalidation_.KeyChanged(id, revoked->owner_id);
    return revoked;
  };
  co_return co_await db_.Run(std::move(job));
}

boost::asio::awaitable<Result<CreatedKey>> KeyService::Rotate(KeyId id, TimeMs grace_ms) {
  auto job = [this, id, grace_ms]() -> Result<CreatedKey> {
    auto old = store_.FindById(id);
    if (!old) return old.error();
    if (!*old) return make_error_code(Errc::kNotFound);
    for (int attempt = 0; attempt < kMaxIdAttempts; ++attempt) {
      auto generated = GenerateKey(options_.key_prefix);
      if (!generated) return generated.error();
      const TimeMs now = clock_.NowMs();
      KeyRecord fresh;
      fresh.id = generated->id;
      fresh.owner_id = (*old)->owner_id;
      fresh.name = (*old)->name;
      fresh.scopes = (*old)->scopes;
      fresh.hash = hasher_.Hash(generated->key);
      fresh.created_at = fresh.updated_at = now;
      fresh.expires_at = (*old)->expires_at;
      fresh.enabled = (*old)->enabled;
      fresh.metadata_json = (*old)->metadata_json;
      auto rotated = store_.Rotate(id, fresh, now + grace_ms, now);
      if (rotated.has_error() && rotated.error() == Errc::kConflict) {
        // Either the old key is already revoked or the new id collided; tell them apart.
        auto again = store_.FindById(id);
        if (!again) return again.error();
        if (!*again) return make_error_code(Errc::kNotFound);
        if ((*again)->revoked_at != kNever) return make_error_code(Errc::kConflict);
        continue;
      }
      if (!rotated) return rotated.error();
      invalidation_.KeyChanged(id, fresh.owner_id);
      invalidation_.KeyChanged(fresh.id, fresh.owner_id);
      return CreatedKey{std::move(generated->key), std::move(fresh)};
    }
    return make_error_code(Errc::kConflict);
  };
  co_return co_await db_.Run(std::move(job));
}

boost::asio::awaitable<Result<KeyRecord>> KeyService::Delete(KeyId id) {
  auto job = [this, id]() -> Result<KeyRecord> {
    auto deleted = store_.Delete(id);
    if (deleted) invalidation_.KeyChanged(id, deleted->owner_id);
    return deleted;
  };
  co_return co_await db_.Run(std::move(job));
}

boost::asio::awaitable<Result<KeyUsage>> KeyService::Usage(KeyId id) {
  auto job = [this, id]() -> Result<KeyUsage> {
    auto found = store_.FindById(id);
    if (!found) return found.error();
    if (!*found) return make_error_code(Errc::kNotFound);
    KeyUsage usage{(*found)->usage_count, (*found)->last_used_at, (*found)->last_used_ip};
    if (auto pending = usage_.Pending(id)) {
      usage.count += pending->count;
      if (pending->last_used_at >= usage.last_used_at) {
        usage.last_used_at = pending->last_used_at;
        usage.last_used_ip = pending->last_used_ip;
      }
    }
    if (l2_) {
      if (auto recent = l2_->RecentUsageSync(id, clock_.NowMs())) usage.recent = *recent;
    }
    return usage;
  };
  co_return co_await db_.Run(std::move(job));
}

}  // namespace keycache
