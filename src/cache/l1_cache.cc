#include "cache/l1_cache.h"

#include <algorithm>
#include <utility>

#include "cache/hash_mix.h"
#include "core/scope.h"

namespace keycache {
namespace {

// A string's own heap block, if it outgrew its inline buffer.
std::size_t HeapBytes(const std::string& s) {
  static const std::size_t kInlineChars = std::string().capacity();
  return s.capacity() > kInlineChars ? s.capacity() + 1 : 0;
}

// make_shared puts the value after a control block of a vtable pointer and two counts.
constexpr std::size_t kSharedControlBlock = sizeof(void*) + 2 * sizeof(int);

}  // namespace

L1Cache::L1Cache(L1Options options, const Clock& clock)
    : options_(options),
      clock_(clock),
      validation_(options.max_bytes / 10 * 6, clock, options.shards),
      negative_(options.max_bytes / 10, clock, options.shards),
      scope_(options.max_bytes / 10, clock, options.shards),
      user_list_(options.max_bytes / 10 * 2, clock, options.shards),
      scope_gens_(std::make_unique<std::atomic<std::uint64_t>[]>(kScopeStripes)) {}

std::size_t L1Cache::FactsCharge(const KeyFacts& facts) {
  std::size_t charge = kSharedControlBlock + sizeof(KeyFacts) + HeapBytes(facts.owner_id) +
                       facts.scopes.capacity() * sizeof(std::string);
  for (const std::string& scope : facts.scopes) charge += HeapBytes(scope);
  return charge;
}

TimeMs L1Cache::Deadline(TimeMs ttl_ms) const {
  const TimeMs now = clock_.NowMs();
  const TimeMs max_age = max_age_ms_.load(std::memory_order_relaxed);
  if (max_age >= 0 && max_age < ttl_ms) ttl_ms = max_age;
  return ttl_ms >= kNever - now ? kNever : now + ttl_ms;
}

std::optional<std::shared_ptr<const KeyFacts>> L1Cache::GetFacts(KeyId id) {
  return validation_.Get(id);
}

std::optional<L1Cache::FactsEntry> L1Cache::GetFactsEntry(KeyId id) {
  auto got = validation_.GetWithDeadline(id);
  if (!got) return std::nullopt;
  return FactsEntry{std::move(got->first), got->second};
}

bool L1Cache::IsKnownMissing(KeyId id) { return negative_.Get(id).has_value(); }

FactsFillTicket L1Cache::BeginFactsFill(KeyId id) {
  return FactsFillTicket{validation_.BeginFill(id), negative_.BeginFill(id)};
}

bool L1Cache::CompleteFactsFill(KeyId id, std::shared_ptr<const KeyFacts> facts,
                                const FactsFillTicket& ticket) {
  if (!facts) return false;
  const std::size_t charge = FactsCharge(*facts);
  if (!validation_.CompleteFill(id, std::move(facts), charge, Deadline(options_.validation_ttl_ms),
                                ticket.validation)) {
    return false;
  }
  negative_.Erase(id);  // the key exists: a "no such key" entry could only be older
  return true;
}

bool L1Cache::CompleteMissingFill(KeyId id, const FactsFillTicket& ticket) {
  return negative_.CompleteFill(id, true, 0, Deadline(options_.negative_ttl_ms), ticket.negative);
}

std::atomic<std::uint64_t>& L1Cache::ScopeStripe(KeyId id) const {
  return scope_gens_[MixHash(id) & (kScopeStripes - 1)];
}

FillTicket L1Cache::ScopeStamp(KeyId id) const {
  return FillTicket{ScopeStripe(id).load(std::memory_order_acquire),
                    scope_epoch_.load(std::memory_order_acquire)};
}

std::optional<bool> L1Cache::GetScopeDecision(KeyId id, std::string_view scope) {
  const ScopeKeyView key{id, scope};
  const std::optional<ScopeDecision> found = scope_.Get(key);
  if (!found) return std::nullopt;
  const FillTicket now = ScopeStamp(id);
  if (found->generation != now.generation || found->epoch != now.epoch) {
    scope_.Erase(key);
    return std::nullopt;
  }
  return found->allowed;
}

void L1Cache::PutScopeDecision(KeyId id, std::string_view scope, bool allowed) {
  // The stamp is read before the facts. InvalidateKey erases the facts before it bumps the stamp,
  // so facts read after a bumped stamp are already the new ones.
  const FillTicket stamp = ScopeStamp(id);
  const std::optional<std::shared_ptr<const KeyFacts>> facts = validation_.Get(id);
  if (!facts || ScopesAllow((*facts)->scopes, scope) != allowed) return;
  ScopeKey key{id, std::string(scope)};
  const std::size_t charge = HeapBytes(key.scope);
  scope_.Insert(key, ScopeDecision{stamp.generation, stamp.epoch, allowed}, charge,
                Deadline(options_.scope_ttl_ms));
}

std::optional<std::shared_ptr<const std::string>> L1Cache::GetUserList(std::string_view owner_id) {
  return user_list_.Get(owner_id);
}

FillTicket L1Cache::BeginUserListFill(std::string_view owner_id) {
  return user_list_.BeginFill(owner_id);
}

bool L1Cache::CompleteUserListFill(std::string_view owner_id,
                                   std::shared_ptr<const std::string> body, FillTicket ticket,
                                   TimeMs not_after) {
  if (!body) return false;
  std::string key(owner_id);
  const std::size_t charge =
      HeapBytes(key) + kSharedControlBlock + sizeof(std::string) + HeapBytes(*body);
  return user_list_.CompleteFill(key, std::move(body), charge,
                                 std::min(Deadline(options_.user_list_ttl_ms), not_after), ticket);
}

void L1Cache::InvalidateKey(KeyId id) {
  validation_.Invalidate(id);
  negative_.Invalidate(id);
  // After the validation entry is gone: see PutScopeDecision and facts_changes().
  ScopeStripe(id).fetch_add(1, std::memory_order_acq_rel);
  facts_changes_.fetch_add(1, std::memory_order_acq_rel);
}

void L1Cache::InvalidateOwner(std::string_view owner_id) { user_list_.Invalidate(owner_id); }

void L1Cache::ClearValidation() {
  validation_.Clear();
  negative_.Clear();
  ClearScope();  // decisions derive from the facts just dropped; moves facts_changes() too
}

void L1Cache::ClearScope() {
  // Epoch first (after any validation clear), for the same reason as in InvalidateKey.
  scope_epoch_.fetch_add(1, std::memory_order_acq_rel);
  scope_.Clear();
  // HotFacts copies carry scope decisions too: retire them with the scope cache.
  facts_changes_.fetch_add(1, std::memory_order_acq_rel);
}

void L1Cache::Clear(CacheType type) {
  switch (type) {
    case CacheType::kValidation:
      ClearValidation();
      return;
    case CacheType::kScope:
      ClearScope();
      return;
    case CacheType::kUserList:
      user_list_.Clear();
      return;
    case CacheType::kUsage:
      return;  // see the header: usage lives in UsageCounter
  }
}

void L1Cache::ClearAll() {
  ClearValidation();
  user_list_.Clear();
}

L1Sizes L1Cache::Sizes() const {
  L1Sizes s;
  s.validation = validation_.Size();
  s.scope = scope_.Size();
  s.user_list = user_list_.Size();
  s.negative = negative_.Size();
  s.bytes = validation_.Bytes() + scope_.Bytes() + user_list_.Bytes() + negative_.Bytes();
  s.capacity_bytes = validation_.CapacityBytes() + scope_.CapacityBytes() +
                     user_list_.CapacityBytes() + negative_.CapacityBytes();
  return s;
}

}  // namespace keycache
