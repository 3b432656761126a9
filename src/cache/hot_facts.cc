#include "cache/hot_facts.h"

#include <algorithm>
#include <bit>

#include "cache/hash_mix.h"

namespace keycache {

HotFacts::HotFacts(L1Cache& l1, std::size_t entries)
    : l1_(l1),
      entries_(entries == 0 ? 0 : std::bit_ceil(std::max<std::size_t>(entries, kWays))),
      slots_(std::make_unique<SlotStorage[]>(kMetricSlots)) {}

HotFacts::View HotFacts::Acquire() {
  if (entries_ == 0) return View(*this, nullptr);
  SlotStorage& s = slots_[ThisThreadSlot()];
  // Another thread on the same slot (more threads than slots) is using it: go without.
  if (s.busy.exchange(true, std::memory_order_acquire)) return View(*this, nullptr);
  if (!s.entries) {
    s.entries = std::make_unique<Entry[]>(entries_);
    s.sets = std::make_unique<SetState[]>(entries_ / kWays);
  }
  return View(*this, &s);
}

HotFacts::View::~View() {
  if (slot_ != nullptr) slot_->busy.store(false, std::memory_order_release);
}

namespace {

// A copy that may still be used: taken under the present change count, before the L1 deadline.
bool Current(const HotFacts::Entry& e, std::uint64_t changes, TimeMs now) {
  return e.used && e.changes == changes && now < e.expires_at;
}

}  // namespace

std::size_t HotFacts::View::SetOf(KeyId id) const {
  return MixHash(id) & (owner_.entries_ / kWays - 1);
}

int HotFacts::View::Way(std::size_t set, KeyId id, std::uint64_t changes, TimeMs now) const {
  const Entry* ways = &slot_->entries[set * kWays];
  for (int w = 0; w < static_cast<int>(kWays); ++w) {
    const Entry& e = ways[w];
    if (e.id == id && Current(e, changes, now)) return w;
  }
  return -1;
}

HotFacts::Found HotFacts::View::Find(KeyId id, TimeMs now) {
  const std::size_t set = SetOf(id);
  Entry* ways = &slot_->entries[set * kWays];
  // Loaded before the L1 read below: see L1Cache::facts_changes().
  const std::uint64_t changes = owner_.l1_.facts_changes();
  SetState& state = slot_->sets[set];
  if (const int w = Way(set, id, changes, now); w >= 0) {
    state.last = id;
    state.used_at[w] = ++state.tick;
    return Found{ways[w].facts, &ways[w]};
  }
  auto got = owner_.l1_.GetFactsEntry(id);
  if (!got || !got->facts) return Found{};
  // A way holding an outdated copy of this very key is refreshed at once: the key is hot.
  // Else a free or outdated way takes it on its second L1 hit; a full set, only when it was
  // also the set's last lookup (the way used least recently then makes room).
  int way = -1;
  int free = -1;
  for (int w = 0; w < static_cast<int>(kWays); ++w) {
    const Entry& e = ways[w];
    if (e.used && e.id == id) way = w;
    if (free < 0 && !Current(e, changes, now)) free = w;
  }
  if (way < 0) {
    const bool seen = std::find(state.missed.begin(), state.missed.end(), id) != state.missed.end();
    if (seen && free >= 0) {
      way = free;
    } else if (seen && state.last == id) {
      way = static_cast<int>(std::min_element(state.used_at.begin(), state.used_at.end()) -
                             state.used_at.begin());
    }
  }
  state.last = id;
  if (way < 0) {
    std::move_backward(state.missed.begin(), state.missed.end() - 1, state.missed.end());
    state.missed[0] = id;
    return Found{std::move(got->facts), nullptr};
  }
  Entry& e = ways[way];
  e.id = id;
  e.used = true;
  e.changes = changes;
  e.expires_at = got->expires_at;
  e.facts = std::make_shared<const KeyFacts>(*got->facts);
  e.decision_count = 0;
  e.proven = false;
  state.used_at[way] = ++state.tick;
  return Found{e.facts, &e};
}

HotFacts::Entry* HotFacts::View::Peek(KeyId id, TimeMs now) {
  const std::size_t set = SetOf(id);
  const int w = Way(set, id, owner_.l1_.facts_changes(), now);
  if (w < 0) return nullptr;
  SetState& state = slot_->sets[set];
  state.last = id;
  state.used_at[w] = ++state.tick;
  return &slot_->entries[set * kWays + static_cast<std::size_t>(w)];
}

std::optional<bool> HotFacts::View::Decision(const Entry& entry, std::string_view scope) {
  for (std::uint8_t i = 0; i < entry.decision_count; ++i) {
    if (entry.decisions[i].scope == scope) return entry.decisions[i].allowed;
  }
  return std::nullopt;
}

void HotFacts::View::RememberDecision(Entry& entry, std::string_view scope, bool allowed) {
  if (entry.decision_count >= kDecisionsPerEntry) return;
  HotFacts::Decision& d = entry.decisions[entry.decision_count++];
  d.scope.assign(scope);
  d.allowed = allowed;
}

}  // namespace keycache
