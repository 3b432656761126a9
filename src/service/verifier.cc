#include "service/verifier.h"

#include "core/api_key.h"
#include "core/scope.h"
#include "util/check.h"

namespace keycache {

bool Verifier::FactsPolicy::CompleteFill(KeyId id, const FactsAnswer& answer,
                                         const Ticket& ticket) {
  if (!l1_enabled) return true;  // nothing to fence: L1 holds nothing
  return answer.found() ? l1.CompleteFactsFill(id, answer.shared_facts(), ticket)
                        : l1.CompleteMissingFill(id, ticket);
}

Result<FactsAnswer> Verifier::FactsPolicy::ReadStore(KeyId id) {
  auto record = store.FindById(id);
  if (!record) return record.error();
  if (!*record) return FactsAnswer::Absent();
  return FactsAnswer::Found(std::make_shared<const KeyFacts>(KeyFacts::From(**record)));
}

Verifier::Verifier(VerifierOptions options, const KeyHasher& hasher, L1Cache& l1, KeyStore& store,
                   DbExecutor& db, UsageCounter& usage, ServiceMetrics& metrics, const Clock& clock,
                   SharedCache* shared, const CoherenceLease* lease)
    : options_(std::move(options)),
      hasher_(hasher),
      l1_(l1),
      store_(store),
      db_(db),
      usage_(usage),
      metrics_(metrics),
      clock_(clock),
      shared_(shared),
      lease_(lease),
      loader_(FactsPolicy{l1, store, options_.l1_enabled}, shared, db, metrics),
      hot_(l1, options_.hot_entries_per_thread) {}

VerifyOutcome Verifier::Record(VerifyOutcome outcome) {
  metrics_.RecordOutcome(outcome.code, outcome.cache);
  return outcome;
}

VerifyOutcome Verifier::Forged(KeyFormat format) {
  metrics_.ForgedKey(format);
  return Record({VerifyCode::kNotFound, CacheStatus::kBypass, nullptr});
}

std::variant<VerifyOutcome, PendingVerify> Verifier::VerifyCached(
    std::string_view key, std::span<const std::string> scopes, std::string_view client_ip) {
  auto parsed = ParseKeyParts(options_.key_prefix, key);
  if (!parsed) return Record({VerifyCode::kMalformed, CacheStatus::kBypass, nullptr});
  const KeyId id = parsed->id;
  const KeyHash hash = hasher_.Hash(parsed->hashed);
  if (!TagMatches(*parsed, hash)) return Forged(KeyFormat::kTagged);
  if (options_.cache_enabled && options_.l1_enabled && Trusted()) {
    ServiceMetrics::L1LookupTimer timer(metrics_);
    const TimeMs now = clock_.NowMs();
    HotFacts::View view = hot_.Acquire();
    HotFacts::Found found;
    if (view) {
      found = view.Find(id, now);
    } else if (auto facts = l1_.GetFacts(id)) {
      found.facts = std::move(*facts);
    }
    if (found.facts) {
      timer.Done(CacheType::kValidation);
      metrics_.ValidationLookup(AnsweredBy::kL1, false);
      return Finish(std::move(found.facts), CachedStatus(), hash, scopes, client_ip, now,
                    found.entry);
    }
    if (l1_.IsKnownMissing(id)) {
      timer.Done(CacheType::kValidation);
      metrics_.ValidationLookup(AnsweredBy::kL1, true);
      return Record({VerifyCode::kNotFound, CachedStatus(), nullptr});
    }
  }
  // A legacy key reaches the caches and the store only if its id was issued as legacy. An id the
  // set lacks (or a set not loaded yet) reloads it, once per interval; meanwhile it is refused.
  bool reload = false;
  if (parsed->format == KeyFormat::kLegacy && !legacy_.Contains(id)) {
    reload = legacy_.ClaimReload(clock_.NowMs());
    if (!reload && legacy_.known()) return Forged(KeyFormat::kLegacy);
  }
  return PendingVerify{id,
                       parsed->format,
                       hash,
                       reload,
                       std::vector<std::string>(scopes.begin(), scopes.end()),
                       std::string(client_ip)};
}

boost::asio::awaitable<Result<VerifyOutcome>> Verifier::Verify(std::string key,
                                                               std::vector<std::string> scopes,
                                                               std::string client_ip) {
  auto cached = VerifyCached(key, scopes, client_ip);
  if (auto* done = std::get_if<VerifyOutcome>(&cached)) co_return std::move(*done);
  PendingVerify pending = std::move(std::get<PendingVerify>(cached));
  co_return co_await Complete(std::move(pending));
}

boost::asio::awaitable<Result<VerifyOutcome>> Verifier::Complete(PendingVerify r) {
  if (r.reload_legacy) {
    Result<std::vector<KeyId>> ids = co_await db_.Read([this] { return store_.ListLegacyIds(); });
    if (!ids) co_return ids.error();
    metrics_.LegacyIdsReload();
    legacy_.Replace(std::move(*ids));
    if (!legacy_.Contains(r.id)) co_return Forged(KeyFormat::kLegacy);
  }
  if (!options_.cache_enabled) {
    auto job = [this, id = r.id] { return FactsPolicy{l1_, store_, false}.ReadStore(id); };
    Result<FactsAnswer> read = co_await db_.Read(std::move(job));
    if (!read) co_return read.error();
    co_return Answer(*read, CacheStatus::kBypass, r.hash, r.scopes, r.client_ip);
  }
  auto loaded = co_await loader_.Load(r.id);
  if (!loaded) {
    metrics_.ValidationLookup(AnsweredBy::kDatabase, false);
    co_return loaded.error();
  }
  // Redis answering (HIT) is a hit like L1's: the database was not asked.
  metrics_.ValidationLookup(loaded->answered_by, !loaded->value.found());
  co_return Answer(loaded->value, loaded->status, r.hash, r.scopes, r.client_ip);
}

boost::asio::awaitable<Result<Verifier::Warmed>> Verifier::Warm(KeyId id) {
  auto loaded = co_await loader_.Load(id);
  if (!loaded) co_return loaded.error();
  std::size_t decisions = 0;
  if (loaded->value.found() && options_.l1_enabled && Trusted()) {
    for (const std::string& scope : loaded->value.facts().scopes) {
      l1_.PutScopeDecision(id, scope, true);
      ++decisions;
    }
  }
  co_return Warmed{std::move(loaded->value), loaded->status, decisions};
}

VerifyOutcome Verifier::Answer(const FactsAnswer& answer, CacheStatus status, const KeyHash& hash,
                               std::span<const std::string> scopes, std::string_view client_ip) {
  if (!answer.found()) return Record({VerifyCode::kNotFound, status, nullptr});
  return Finish(answer.shared_facts(), status, hash, scopes, client_ip, clock_.NowMs());
}

VerifyOutcome Verifier::Finish(std::shared_ptr<const KeyFacts> facts, CacheStatus status,
                               const KeyHash& hash, std::span<const std::string> scopes,
                               std::string_view client_ip, TimeMs now, HotFacts::Entry* hot) {
  KC_CHECK(facts != nullptr);
  VerifyCode code = Decide(*facts, hash, now, {});
  if (code == VerifyCode::kNotFound) facts = nullptr;  // wrong secret: reveal nothing
  if (code == VerifyCode::kValid && !ScopesAllowed(*facts, scopes, hot)) {
    code = VerifyCode::kInsufficientScope;
  }
  if (code == VerifyCode::kValid) usage_.Record(facts->id, now, client_ip);
  return Record({code, status, std::move(facts)});
}

bool Verifier::ScopesAllowed(const KeyFacts& facts, std::span<const std::string> scopes,
                             HotFacts::Entry* hot) {
  for (const std::string& scope : scopes) {
    bool allowed;
    if (!options_.cache_enabled || !options_.l1_enabled || !Trusted()) {
      allowed = ScopesAllow(facts.scopes, scope);
    } else if (auto mine = hot ? HotFacts::View::Decision(*hot, scope) : std::nullopt) {
      metrics_.ScopeLookup(true);  // this thread's copy of the decision
      allowed = *mine;
    } else if (auto cached = l1_.GetScopeDecision(facts.id, scope)) {
      if (hot) HotFacts::View::RememberDecision(*hot, scope, *cached);
      metrics_.ScopeLookup(true);
      allowed = *cached;
    } else {
      metrics_.ScopeLookup(false);
      allowed = ScopesAllow(facts.scopes, scope);
      l1_.PutScopeDecision(facts.id, scope, allowed);
      if (hot) HotFacts::View::RememberDecision(*hot, scope, allowed);
    }
    if (!allowed) return false;
  }
  return true;
}

}  // namespace keycache
