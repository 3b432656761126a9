#include "service/key_service.h"

#include <algorithm>
#include <boost/asio/this_coro.hpp>

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

boost::asio::awaitable<SharedRead<RenderedList>> KeyService::OwnerListPolicy::ReadShared(
    SharedCache& shared, const std::string& owner) {
  SharedRead<std::string> read = co_await shared.ReadUserList(owner);
  if (!read.hit()) {
    if (auto g = read.fill_generation()) co_return SharedRead<RenderedList>::Miss(*g);
    co_return SharedRead<RenderedList>::NoAnswer();
  }
  const std::uint64_t generation = *read.fill_generation();
  // Only lists that change by no clock are shared (see WriteShared): no deadline to carry.
  co_return SharedRead<RenderedList>::Hit(
      RenderedList{std::make_shared<const std::string>(read.take_value()), kNever}, generation);
}

Result<RenderedList> KeyService::OwnerListPolicy::ReadStore(const std::string& owner) {
  auto keys = store.ListByOwner(owner);
  if (!keys) return keys.error();
  const TimeMs now = clock.NowMs();
  RenderedList list;
  list.json = std::make_shared<const std::string>(RenderOwnerKeys(owner, *keys, now));
  for (const KeyRecord& k : *keys) {
    if (k.expires_at > now) list.not_after = std::min(list.not_after, k.expires_at);
    if (k.revoked_at > now) list.not_after = std::min(list.not_after, k.revoked_at);
  }
  return list;
}

void KeyService::OwnerListPolicy::WriteShared(SharedCache& shared, const std::string& owner,
                                              std::uint64_t generation, const RenderedList& list) {
  // Shared only while no listed key is about to change state by itself; such lists are rare and
  // cheap to render again.
  if (list.not_after == kNever) shared.WriteUserList(owner, generation, *list.json);
}

KeyService::KeyService(KeyServiceOptions options, const KeyHasher& hasher, KeyStore& store,
                       DbExecutor& db, L1Cache& l1, UsageCounter& usage,
                       InvalidationSink& invalidation, ServiceMetrics& metrics, const Clock& clock,
                       SharedCache* shared, const CoherenceLease* lease)
    : options_(std::move(options)),
      hasher_(hasher),
      store_(store),
      db_(db),
      l1_(l1),
      usage_(usage),
      invalidation_(invalidation),
      metrics_(metrics),
      clock_(clock),
      shared_(shared),
      lease_(lease),
      lists_(OwnerListPolicy{l1, store, clock}, shared, db, metrics) {}

boost::asio::awaitable<KeyService::PropagationWait> KeyService::NewPropagationWait() {
  co_return std::make_shared<Completion<Propagation>>(co_await boost::asio::this_coro::executor);
}

PropagationDone KeyService::Notify(PropagationWait wait) {
  return [wait = std::move(wait)](Propagation p) { wait->Set(std::move(p)); };
}

boost::asio::awaitable<Propagation> KeyService::Await(PropagationWait wait) {
  std::optional<Propagation> p = co_await wait->Wait(options_.propagation_timeout);
  if (!p) {
    co_return Propagation::Pending("the shared cache did not confirm the invalidation within " +
                                   std::to_string(options_.propagation_timeout.count()) + " ms");
  }
  co_return std::move(*p);
}

boost::asio::awaitable<Result<CreatedKey>> KeyService::Create(NewKey request) {
  auto job = [this, request = std::move(request)]() -> Result<CreatedKey> {
    for (int attempt = 0; attempt < kMaxIdAttempts; ++attempt) {
      auto generated = GenerateKey(options_.key_prefix, hasher_);
      if (!generated) return generated.error();
      const TimeMs now = clock_.NowMs();
      KeyRecord record;
      record.id = generated->id;
      record.owner_id = request.owner_id;
      record.name = request.name;
      record.scopes = request.scopes;
      record.hash = generated->hash;
      record.format = generated->format;
      record.created_at = record.updated_at = now;
      record.expires_at = request.expires_at;
      record.metadata_json = request.metadata_json;
      auto inserted = store_.Insert(record, options_.max_keys_per_owner);
      if (inserted.has_error() && inserted.error() == Errc::kConflict) continue;  // id taken
      if (!inserted) return inserted.error();
      // The id may sit in a negative cache if someone probed it before it existed.
      invalidation_.Announce(CacheChange::Key(record.id, record.owner_id), {});
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
  co_return co_await db_.Read(std::move(job));
}

boost::asio::awaitable<Result<OwnerKeys>> KeyService::ListByOwner(std::string owner_id) {
  if (!options_.cache_enabled) {
    auto job = [this, owner = std::move(owner_id)] {
      return OwnerListPolicy{l1_, store_, clock_}.ReadStore(owner);
    };
    Result<RenderedList> list = co_await db_.Read(std::move(job));
    if (!list) co_return list.error();
    co_return OwnerKeys{std::move(list->json), CacheStatus::kBypass};
  }
  if ((!shared_ || shared_->Coherent()) && (!lease_ || lease_->Held())) {
    ServiceMetrics::L1LookupTimer timer(metrics_);
    if (auto cached = l1_.GetUserList(owner_id)) {
      timer.Done(CacheType::kUserList);
      metrics_.UserListLookup(AnsweredBy::kL1);
      co_return OwnerKeys{*cached, CacheStatus::kHit};
    }
  }
  auto loaded = co_await lists_.Load(std::move(owner_id));
  metrics_.UserListLookup(loaded ? loaded->answered_by : AnsweredBy::kDatabase);
  if (!loaded) co_return loaded.error();
  co_return OwnerKeys{std::move(loaded->value.json), loaded->status};
}

boost::asio::awaitable<Result<CacheStatus>> KeyService::WarmOwnerList(std::string owner_id) {
  auto loaded = co_await lists_.Load(std::move(owner_id));
  if (!loaded) co_return loaded.error();
  co_return loaded->status;
}

boost::asio::awaitable<Result<Committed<KeyRecord>>> KeyService::Update(KeyId id, KeyPatch patch) {
  PropagationWait wait = co_await NewPropagationWait();
  auto job = [this, id, patch = std::move(patch), wait]() -> Result<KeyRecord> {
    auto updated = store_.Update(id, patch, clock_.NowMs());
    if (updated) invalidation_.Announce(CacheChange::Key(id, updated->owner_id), Notify(wait));
    return updated;
  };
  Result<KeyRecord> updated = co_await db_.Run(std::move(job));
  if (!updated) co_return updated.error();
  Propagation propagation = co_await Await(wait);
  co_return Committed<KeyRecord>{std::move(*updated), std::move(propagation)};
}

boost::asio::awaitable<Result<Committed<KeyRecord>>> KeyService::Revoke(KeyId id,
                                                                        std::string reason) {
  PropagationWait wait = co_await NewPropagationWait();
  auto job = [this, id, reason = std::move(reason), wait]() -> Result<KeyRecord> {
    const TimeMs now = clock_.NowMs();
    auto revoked = store_.Revoke(id, now, reason, now);
    if (revoked) invalidation_.Announce(CacheChange::Key(id, revoked->owner_id), Notify(wait));
    return revoked;
  };
  Result<KeyRecord> revoked = co_await db_.Run(std::move(job));
  if (!revoked) co_return revoked.error();
  Propagation propagation = co_await Await(wait);
  co_return Committed<KeyRecord>{std::move(*revoked), std::move(propagation)};
}

boost::asio::awaitable<Result<Committed<CreatedKey>>> KeyService::Rotate(KeyId id,
                                                                         TimeMs grace_ms) {
  PropagationWait wait = co_await NewPropagationWait();
  auto job = [this, id, grace_ms, wait]() -> Result<CreatedKey> {
    auto old = store_.FindById(id);
    if (!old) return old.error();
    if (!*old) return make_error_code(Errc::kNotFound);
    for (int attempt = 0; attempt < kMaxIdAttempts; ++attempt) {
      auto generated = GenerateKey(options_.key_prefix, hasher_);
      if (!generated) return generated.error();
      const TimeMs now = clock_.NowMs();
      KeyRecord fresh;
      fresh.id = generated->id;
      fresh.owner_id = (*old)->owner_id;
      fresh.name = (*old)->name;
      fresh.scopes = (*old)->scopes;
      fresh.hash = generated->hash;
      fresh.format = generated->format;
      fresh.created_at = fresh.updated_at = now;
      fresh.expires_at = (*old)->expires_at;
      fresh.enabled = (*old)->enabled;
      fresh.metadata_json = (*old)->metadata_json;
      const TimeMs old_revoked_at = now + grace_ms;
      auto rotated = store_.Rotate(id, fresh, old_revoked_at, now);
      if (rotated.has_error() && rotated.error() == Errc::kConflict) {
        // Either the old key is already revoked or the new id collided; tell them apart.
        auto again = store_.FindById(id);
        if (!again) return again.error();
        if (!*again) return make_error_code(Errc::kNotFound);
        if ((*again)->revoked_at != kNever) return make_error_code(Errc::kConflict);
        continue;
      }
      if (!rotated) return rotated.error();
      // The old key's end is what must be in force everywhere; the new one is like a create.
      invalidation_.Announce(CacheChange::Key(id, fresh.owner_id), Notify(wait));
      invalidation_.Announce(CacheChange::Key(fresh.id, fresh.owner_id), {});
      return CreatedKey{std::move(generated->key), std::move(fresh), old_revoked_at};
    }
    return make_error_code(Errc::kConflict);
  };
  Result<CreatedKey> created = co_await db_.Run(std::move(job));
  if (!created) co_return created.error();
  Propagation propagation = co_await Await(wait);
  co_return Committed<CreatedKey>{std::move(*created), std::move(propagation)};
}

boost::asio::awaitable<Result<Committed<KeyRecord>>> KeyService::Delete(KeyId id) {
  PropagationWait wait = co_await NewPropagationWait();
  auto job = [this, id, wait]() -> Result<KeyRecord> {
    auto deleted = store_.Delete(id);
    if (deleted) invalidation_.Announce(CacheChange::Key(id, deleted->owner_id), Notify(wait));
    return deleted;
  };
  Result<KeyRecord> deleted = co_await db_.Run(std::move(job));
  if (!deleted) co_return deleted.error();
  Propagation propagation = co_await Await(wait);
  co_return Committed<KeyRecord>{std::move(*deleted), std::move(propagation)};
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
    return usage;
  };
  Result<KeyUsage> usage = co_await db_.Read(std::move(job));
  if (!usage) co_return usage.error();
  if (shared_) {
    // On this I/O thread, never a database thread: Redis may be slow.
    Result<RecentUsage> recent = co_await shared_->ReadRecentUsage(id, clock_.NowMs());
    if (recent) usage->recent = *recent;
  }
  co_return usage;
}

boost::asio::awaitable<Result<Propagation>> KeyService::InvalidateKey(KeyId id) {
  PropagationWait wait = co_await NewPropagationWait();
  auto job = [this, id, wait]() -> Result<void> {
    auto record = store_.FindById(id);
    if (!record) return record.error();
    invalidation_.Announce(CacheChange::Key(id, *record ? (*record)->owner_id : std::string()),
                           Notify(wait));
    return {};
  };
  Result<void> done = co_await db_.Run(std::move(job));
  if (!done) co_return done.error();
  co_return co_await Await(wait);
}

boost::asio::awaitable<Propagation> KeyService::Invalidate(CacheChange change) {
  PropagationWait wait = co_await NewPropagationWait();
  invalidation_.Announce(change, Notify(wait));
  co_return co_await Await(wait);
}

}  // namespace keycache
