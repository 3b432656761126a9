#include "service/verifier.h"

#include <boost/asio/this_coro.hpp>

#include "core/api_key.h"
#include "core/scope.h"
#include "service/completion.h"

namespace keycache {
namespace {

// A fill rejected by the fence means the key changed while we read it; read again so that
// every waiter of this flight gets an answer at least as new as that change.
constexpr int kMaxFillAttempts = 3;

}  // namespace

Verifier::Verifier(VerifierOptions options, const KeyHasher& hasher, L1Cache& l1, KeyStore& store,
                   DbExecutor& db, UsageCounter& usage, ServiceMetrics& metrics, const Clock& clock,
                   L2Cache* l2)
    : options_(std::move(options)),
      hasher_(hasher),
      l1_(l1),
      store_(store),
      db_(db),
      usage_(usage),
      metrics_(metrics),
      clock_(clock),
      l2_(l2) {}

VerifyOutcome Verifier::Record(VerifyOutcome outcome) {
  metrics_.RecordOutcome(outcome.code, outcome.cache);
  return outcome;
}

std::optional<VerifyOutcome> Verifier::VerifyCached(std::string_view key,
                                                    std::span<const std::string> scopes,
                                                    std::string_view client_ip) {
  auto id = ParseKey(options_.key_prefix, key);
  if (!id) return Record({VerifyCode::kMalformed, CacheStatus::kBypass, nullptr});
  if (!options_.cache_enabled || !options_.l1_enabled) return std::nullopt;

  if (auto facts = l1_.GetFacts(*id)) {
    metrics_.ValidationLookup(LookupResult::kHit);
    return Finish(std::move(*facts), CachedStatus(), key, scopes, client_ip);
  }
  if (l1_.IsKnownMissing(*id)) {
    metrics_.ValidationLookup(LookupResult::kNegativeHit);
    return Record({VerifyCode::kNotFound, CachedStatus(), nullptr});
  }
  return std::nullopt;
}

boost::asio::awaitable<Result<VerifyOutcome>> Verifier::Verify(std::string key,
                                                               std::vector<std::string> scopes,
                                                               std::string client_ip) {
  if (auto cached = VerifyCached(key, scopes, client_ip)) co_return *cached;
  // VerifyCached returned nullopt, so the key parsed.
  const KeyId id = *ParseKey(options_.key_prefix, key);

  if (!options_.cache_enabled) {
    auto record = co_await db_.Run([this, id] { return store_.FindById(id); });
    if (!record) co_return record.error();
    if (!*record) co_return Record({VerifyCode::kNotFound, CacheStatus::kBypass, nullptr});
    auto facts = std::make_shared<const KeyFacts>(KeyFacts::From(**record));
    co_return Finish(std::move(facts), CacheStatus::kBypass, key, scopes, client_ip);
  }

  metrics_.ValidationLookup(LookupResult::kMiss);
  // L2 first, uncoalesced: a Redis read is cheap, and a flight would cost every request a
  // completion and a timer. Only store reads are coalesced.
  std::optional<std::uint64_t> generation;
  if (l2_) {
    std::optional<Loaded> from_l2 = co_await ReadL2(id, generation);
    if (from_l2) {
      if (!*from_l2) co_return Record({VerifyCode::kNotFound, CacheStatus::kHit, nullptr});
      co_return Finish(std::move(**from_l2), CacheStatus::kHit, key, scopes, client_ip);
    }
  }
  // Redis was consulted unless the breaker kept us away: then the answer is a BYPASS.
  const CacheStatus status = l2_ && !generation ? CacheStatus::kBypass : CacheStatus::kMiss;
  Loaded loaded = co_await LoadCoalesced(id, generation);
  if (!loaded) co_return loaded.error();
  if (!*loaded) co_return Record({VerifyCode::kNotFound, status, nullptr});
  co_return Finish(std::move(*loaded), status, key, scopes, client_ip);
}

VerifyOutcome Verifier::Finish(std::shared_ptr<const KeyFacts> facts, CacheStatus status,
                               std::string_view key, std::span<const std::string> scopes,
                               std::string_view client_ip) {
  const TimeMs now = clock_.NowMs();
  VerifyCode code = Decide(*facts, hasher_.Hash(key), now, {});
  if (code == VerifyCode::kNotFound) facts = nullptr;  // wrong secret: reveal nothing
  if (code == VerifyCode::kValid && !ScopesAllowed(*facts, scopes)) {
    code = VerifyCode::kInsufficientScope;
  }
  if (code == VerifyCode::kValid) usage_.Record(facts->id, now, client_ip);
  return Record({code, status, std::move(facts)});
}

bool Verifier::ScopesAllowed(const KeyFacts& facts, std::span<const std::string> scopes) {
  for (const std::string& scope : scopes) {
    bool allowed;
    if (!options_.cache_enabled || !options_.l1_enabled) {
      allowed = ScopesAllow(facts.scopes, scope);
    } else if (auto cached = l1_.GetScopeDecision(facts.id, scope)) {
      metrics_.ScopeLookup(true);
      allowed = *cached;
    } else {
      metrics_.ScopeLookup(false);
      allowed = ScopesAllow(facts.scopes, scope);
      l1_.PutScopeDecision(facts.id, scope, allowed);
    }
    if (!allowed) return false;
  }
  return true;
}

boost::asio::awaitable<Verifier::Loaded> Verifier::LoadCoalesced(
    KeyId id, std::optional<std::uint64_t> generation) {
  auto ex = co_await boost::asio::this_coro::executor;
  auto done = std::make_shared<Completion<Loaded>>(ex);
  const bool leader = flights_.Join(id, [done](const Loaded& r) { done->Set(r); });
  if (leader) {
    metrics_.StoreRead();
    db_.Post([this, id, generation] {
      auto started = ServiceMetrics::StartTimer();
      Loaded loaded = LoadAndFill(id, generation);
      metrics_.ObserveOperation(CacheOp::kLoad, CacheType::kValidation, started);
      if (!loaded) metrics_.CacheError(CacheType::kValidation, CacheOp::kLoad);
      flights_.Complete(id, loaded);
    });
  }
  std::optional<Loaded> r = co_await done->Wait(db_.timeout());
  if (!r) co_return make_error_code(Errc::kTimeout);
  co_return std::move(*r);
}

boost::asio::awaitable<std::optional<Verifier::Loaded>> Verifier::ReadL2(
    KeyId id, std::optional<std::uint64_t>& generation) {
  if (!l2_->available()) co_return std::nullopt;
  // The ticket is taken before the read: an invalidation that overtakes the reply refuses it.
  auto ticket = l1_.BeginFactsFill(id);
  Result<L2FactsRead> read = co_await l2_->ReadFacts(id);
  if (!read) co_return std::nullopt;
  generation = read->generation;
  if (!read->hit) co_return std::nullopt;
  if (!options_.l1_enabled) co_return Loaded(std::move(read->facts));
  const bool filled = read->facts ? l1_.CompleteFactsFill(id, read->facts, ticket)
                                  : l1_.CompleteMissingFill(id, ticket);
  // Refused: the key changed while we read. Its generation moved too; let the store answer.
  if (!filled) {
    generation.reset();
    co_return std::nullopt;
  }
  co_return Loaded(std::move(read->facts));
}

Verifier::Loaded Verifier::LoadAndFill(KeyId id, std::optional<std::uint64_t> generation) {
  for (int attempt = 1;; ++attempt) {
    auto ticket = l1_.BeginFactsFill(id);
    auto record = store_.FindById(id);
    if (!record) return record.error();
    std::shared_ptr<const KeyFacts> facts;
    if (*record) facts = std::make_shared<const KeyFacts>(KeyFacts::From(**record));
    const bool filled = !options_.l1_enabled ? true
                        : facts              ? l1_.CompleteFactsFill(id, facts, ticket)
                                             : l1_.CompleteMissingFill(id, ticket);
    if (filled || attempt == kMaxFillAttempts) {
      // Sealed under the generation read before the store: stale if anything changed since.
      if (filled && generation && l2_) l2_->WriteFacts(id, *generation, facts);
      return facts;
    }
    generation.reset();  // overtaken: that generation is already old
  }
}

}  // namespace keycache
