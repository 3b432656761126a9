// FactsAnswer: an authoritative answer about one key id — the key's verification facts, or "no
// such key". A value type with no third state: every source (the store, a sealed L2 entry, the
// L1) produces one of the two, and code that needs facts asks found() first (checked).
// Immutable once built; copies share the facts.
#pragma once

#include <memory>
#include <utility>

#include "core/key_facts.h"
#include "util/check.h"

namespace keycache {

class FactsAnswer {
 public:
  static FactsAnswer Found(std::shared_ptr<const KeyFacts> facts) {
    KC_CHECK(facts != nullptr);
    return FactsAnswer(std::move(facts));
  }
  static FactsAnswer Absent() { return FactsAnswer(nullptr); }

  bool found() const { return facts_ != nullptr; }
  const KeyFacts& facts() const {
    KC_CHECK(found());
    return *facts_;
  }
  const std::shared_ptr<const KeyFacts>& shared_facts() const {
    KC_CHECK(found());
    return facts_;
  }

 private:
  explicit FactsAnswer(std::shared_ptr<const KeyFacts> facts) : facts_(std::move(facts)) {}
  std::shared_ptr<const KeyFacts> facts_;  // null: the key does not exist
};

}  // namespace keycache
