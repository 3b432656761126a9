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

namespace {

Result<FactsAnswer> ToAnswer(const Result<std::optional<KeyRecord>>& record) {
  if (!record) return record.error();
  if (!*record) return FactsAnswer::Absent();
  return FactsAnswer::Found(std::make_shared<const KeyFacts>(KeyFacts::From(**record)));
}

}  // namespace

Result<FactsAnswer> Verifier::FactsPolicy::ReadStore(KeyId id) {
  return ToAnswer(store.FindById(id));
}

boost::asio::awaitable<std::optional<Result<FactsAnswer>>> Verifier::FactsPolicy::ReadStoreAsync(
    KeyId id) {
  if (async == nullptr) co_return std::nullopt;
  std::optional<AsyncKeyReader::Answer> read = co_await async->FindById(id);
  if (!read) co_return std::nullopt;
  co_return ToAnswer(*read);
}

std::vector<Result<FactsAnswer>> Verifier::FactsPolicy::ReadStoreMany(std::span<const KeyId> ids) {
  std::vector<Result<FactsAnswer>> out;
  out.reserve(ids.size());
  for (const auto& record : store.FindByIds(ids)) out.push_back(ToAnswer(record));
  return out;
}

Verifier::Verifier(VerifierOptions options, const KeyHasher& hasher, L1Cache& l1, KeyStore& store,
                   DbExecutor& db, UsageCounter& usage, ServiceMetrics& metrics, const Clock& clock,
                   SharedCache* shared, const CoherenceLease* lease, AsyncKeyReader* async)
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
      async_(async),
      loader_(FactsPolicy{l1, store, options_.l1_enabled, async}, shared, db, metrics),
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
  const bool use_l1 = options_.cache_enabled && options_.l1_enabled && Trusted();
  std::optional<ServiceMetrics::L1LookupTimer> timer;
  TimeMs now = 0;
  HotFacts::View view = use_l1 ? hot_.Acquire() : hot_.Empty();
  if (use_l1) {
    timer.emplace(metrics_);
    now = clock_.NowMs();
    // The very bytes that passed every check on this thread's copy: none is repeated, neither
    // the format and checksum nor the HMAC (core/proof_tag.h). Any other bytes, a variant of
    // the key's own included, take the full path below.
    HotFacts::Entry* hot = nullptr;
    if (view) {
      if (auto peeked = PeekKeyId(options_.key_prefix, key)) hot = view.Peek(*peeked, now);
    }
    if (hot != nullptr && hot->proven && TagEquals(hot->proof, proof_tags_.Tag(key))) {
      timer->Done(CacheType::kValidation);
      metrics_.ValidationLookup(AnsweredBy::kL1, false, now);
      metrics_.HmacSkipped();
      std::shared_ptr<const KeyFacts> facts = hot->facts;
      const KeyHash& stored = facts->hash;
      return Finish(std::move(facts), CachedStatus(), stored, scopes, client_ip, now, hot);
    }
  }
  auto parsed = ParseKeyParts(options_.key_prefix, key);
  if (!parsed) return Record({VerifyCode::kMalformed, CacheStatus::kBypass, nullptr});
  const KeyId id = parsed->id;
  const KeyHash hash = hasher_.Hash(parsed->hashed);
  if (!TagMatches(*parsed, hash)) return Forged(KeyFormat::kTagged);
  if (use_l1) {
    HotFacts::Found found;
    if (view) {
      found = view.Find(id, now);
    } else if (auto facts = l1_.GetFacts(id)) {
      found.facts = std::move(*facts);
    }
    if (found.facts) {
      timer->Done(CacheType::kValidation);
      metrics_.ValidationLookup(AnsweredBy::kL1, false, now);
      return Finish(std::move(found.facts), CachedStatus(), hash, scopes, client_ip, now,
                    found.entry, key);
    }
    if (l1_.IsKnownMissing(id)) {
      timer->Done(CacheType::kValidation);
      metrics_.ValidationLookup(AnsweredBy::kL1, true, now);
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
    // No cache to fence: the store's answer as it is, from this thread when it can.
    FactsPolicy direct{l1_, store_, false, async_};
    // (No co_await inside a conditional expression: GCC 12 mishandles its temporaries.)
    std::optional<Result<FactsAnswer>> read = co_await direct.ReadStoreAsync(r.id);
    if (!read) {
      read = co_await db_.Read([direct, id = r.id]() mutable { return direct.ReadStore(id); });
    }
    if (!*read) co_return read->error();
    co_return Answer(**read, CacheStatus::kBypass, r.hash, r.scopes, r.client_ip);
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
                               std::string_view client_ip, TimeMs now, HotFacts::Entry* hot,
                               std::string_view presented) {
  KC_CHECK(facts != nullptr);
  VerifyCode code = Decide(*facts, hash, now, {});
  if (code == VerifyCode::kNotFound) {
    facts = nullptr;  // wrong secret: reveal nothing
  } else if (hot != nullptr && !hot->proven && !presented.empty()) {
    // The HMAC of these bytes matched this copy's: later presentations of the same bytes on this
    // thread are recognised by their tag.
    hot->proof = proof_tags_.Tag(presented);
    hot->proven = true;
  }
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
