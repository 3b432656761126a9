#include "cache/hot_facts.h"

#include <bit>

#include "cache/hash_mix.h"

namespace keycache {

HotFacts::HotFacts(L1Cache& l1, std::size_t entries)
    : l1_(l1),
      entries_(entries == 0 ? 0 : std::bit_ceil(entries)),
      slots_(std::make_unique<SlotStorage[]>(kMetricSlots)) {}

HotFacts::View HotFacts::Acquire() {
  if (entries_ == 0) return View(*this, nullptr);
  SlotStorage& s = slots_[ThisThreadSlot()];
  // Another thread on the same slot (more threads than slots) is using it: go without.
  if (s.busy.exchange(true, std::memory_order_acquire)) return View(*this, nullptr);
  if (!s.entries) {
    s.entries = std::make_unique<Entry[]>(entries_);
    s.candidates = std::make_unique<KeyId[]>(entries_);
  }
  return View(*this, &s);
}

HotFacts::View::~View() {
  if (slot_ != nullptr) slot_->busy.store(false, std::memory_order_release);
}

HotFacts::Found HotFacts::View::Find(KeyId id, TimeMs now) {
  const std::size_t at = MixHash(id) & (owner_.entries_ - 1);
  Entry& e = slot_->entries[at];
  // Loaded before the L1 read below: see L1Cache::facts_changes().
  const std::uint64_t changes = owner_.l1_.facts_changes();
  if (e.used && e.id == id && e.changes == changes && now < e.expires_at) {
    return Found{e.facts, &e};
  }
  auto got = owner_.l1_.GetFactsEntry(id);
  if (!got || !got->facts) return Found{};
  KeyId& candidate = slot_->candidates[at];
  // The first hit here: remember it and answer from L1's entry (a stale copy of this very key
  // is refreshed at once: the key is hot).
  if (candidate != id && !(e.used && e.id == id)) {
    candidate = id;
    return Found{std::move(got->facts), nullptr};
  }
  e.id = id;
  e.used = true;
  e.changes = changes;
  e.expires_at = got->expires_at;
  e.facts = std::make_shared<const KeyFacts>(*got->facts);
  e.decision_count = 0;
  return Found{e.facts, &e};
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
