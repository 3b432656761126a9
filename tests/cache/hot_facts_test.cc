// HotFacts: each thread's front of L1's validation entries. A hot key is copied on its second L1
// hit in a row and then answered from the copy; any invalidation or clear, and the L1 entry's
// deadline, retire the copies; a thread whose slot is in use goes without. Under real
// concurrency, after an invalidation returns no reader that starts later sees the old facts.
#include "cache/hot_facts.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace keycache {
namespace {

std::shared_ptr<const KeyFacts> Facts(KeyId id, std::string owner) {
  auto f = std::make_shared<KeyFacts>();
  f->id = id;
  f->owner_id = std::move(owner);
  f->scopes = {"files:read"};
  return f;
}

bool Fill(L1Cache& l1, const std::shared_ptr<const KeyFacts>& f) {
  const FactsFillTicket ticket = l1.BeginFactsFill(f->id);
  return l1.CompleteFactsFill(f->id, f, ticket);
}

struct Fixture {
  ManualClock clock;
  L1Cache l1{L1Options{}, clock};
  HotFacts hot{l1, 64};
};

TEST(HotFactsTest, TheSecondHitCopiesAndLaterHitsAnswerFromTheCopy) {
  Fixture f;
  const auto original = Facts(1, "owner-1");
  ASSERT_TRUE(Fill(f.l1, original));
  HotFacts::View view = f.hot.Acquire();
  ASSERT_TRUE(view);
  const TimeMs now = f.clock.NowMs();
  const HotFacts::Found first = view.Find(1, now);
  EXPECT_EQ(first.facts, original) << "the first hit answers from L1's own entry";
  EXPECT_EQ(first.entry, nullptr);
  const HotFacts::Found second = view.Find(1, now);
  ASSERT_NE(second.entry, nullptr);
  ASSERT_NE(second.facts, nullptr);
  EXPECT_NE(second.facts, original) << "the thread's own copy";
  EXPECT_EQ(second.facts->owner_id, "owner-1");
  const HotFacts::Found third = view.Find(1, now);
  EXPECT_EQ(third.facts, second.facts);
  EXPECT_EQ(third.entry, second.entry);
  EXPECT_EQ(view.Find(2, now).facts, nullptr) << "nothing in L1, nothing here";
}

TEST(HotFactsTest, AnInvalidationRetiresTheCopy) {
  Fixture f;
  ASSERT_TRUE(Fill(f.l1, Facts(1, "v1")));
  HotFacts::View view = f.hot.Acquire();
  const TimeMs now = f.clock.NowMs();
  view.Find(1, now);
  ASSERT_NE(view.Find(1, now).entry, nullptr);
  f.l1.InvalidateKey(1);
  EXPECT_EQ(view.Find(1, now).facts, nullptr) << "a revoked key's copy outlived its invalidation";
  ASSERT_TRUE(Fill(f.l1, Facts(1, "v2")));
  EXPECT_EQ(view.Find(1, now).facts->owner_id, "v2");
}

TEST(HotFactsTest, AnyInvalidationOrClearRetiresEveryCopy) {
  Fixture f;
  const auto one = Facts(1, "one");
  ASSERT_TRUE(Fill(f.l1, one));
  HotFacts::View view = f.hot.Acquire();
  const TimeMs now = f.clock.NowMs();
  view.Find(1, now);
  const auto copy = view.Find(1, now).facts;
  ASSERT_NE(copy, one);
  f.l1.InvalidateKey(99);  // another key
  const auto after = view.Find(1, now).facts;
  EXPECT_NE(after, copy) << "the copy was used after an invalidation";
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(after->owner_id, "one");

  const auto recopied = view.Find(1, now).facts;
  for (CacheType type : {CacheType::kValidation, CacheType::kScope}) {
    f.l1.Clear(type);
    const auto seen = view.Find(1, now).facts;
    EXPECT_NE(seen, recopied) << "a copy outlived Clear(" << static_cast<int>(type) << ")";
    if (type == CacheType::kValidation) EXPECT_EQ(seen, nullptr);
  }
}

TEST(HotFactsTest, TheL1EntrysDeadlineEndsTheCopy) {
  Fixture f;
  ASSERT_TRUE(Fill(f.l1, Facts(1, "owner")));
  HotFacts::View view = f.hot.Acquire();
  view.Find(1, f.clock.NowMs());
  ASSERT_NE(view.Find(1, f.clock.NowMs()).entry, nullptr);
  f.clock.Advance(L1Options{}.validation_ttl_ms);
  EXPECT_EQ(view.Find(1, f.clock.NowMs()).facts, nullptr);
}

TEST(HotFactsTest, AFullSetKeepsItsKeysAndOneMoreTakingTurnsWithThemIsNeverCopied) {
  // A table of one set (the size rounds up to kWays entries): every key lands in it. Keys
  // 1..kWays fill it; key kWays + 1 is one too many.
  ManualClock clock;
  L1Cache l1{L1Options{}, clock};
  HotFacts hot{l1, 1};
  constexpr KeyId kFull = HotFacts::kWays;
  constexpr KeyId kExtra = kFull + 1;
  for (KeyId id = 1; id <= kExtra; ++id) ASSERT_TRUE(Fill(l1, Facts(id, "o")));
  HotFacts::View view = hot.Acquire();
  const TimeMs now = clock.NowMs();
  // Each key is copied on its second hit in a row, into a way of its own, and all are kept.
  std::vector<HotFacts::Entry*> entries;
  for (KeyId id = 1; id <= kFull; ++id) {
    view.Find(id, now);
    const HotFacts::Found f = view.Find(id, now);
    ASSERT_NE(f.entry, nullptr) << id;
    entries.push_back(f.entry);
  }
  EXPECT_EQ(std::set<HotFacts::Entry*>(entries.begin(), entries.end()).size(), HotFacts::kWays);
  for (KeyId id = 1; id <= kFull; ++id) EXPECT_EQ(view.Peek(id, now), entries[id - 1]) << id;
  // kWays + 1 keys taking turns in the full set: the extra one is never looked up twice in a
  // row, so it is answered by L1 and displaces nobody.
  for (KeyId i = 0; i < 3 * kExtra; ++i) {
    const KeyId id = 1 + i % kExtra;
    const HotFacts::Found f = view.Find(id, now);
    ASSERT_NE(f.facts, nullptr) << i;
    EXPECT_EQ(f.entry, id == kExtra ? nullptr : entries[id - 1]) << i;
  }
  EXPECT_EQ(view.Peek(kExtra, now), nullptr);
  // The extra key looked up twice in a row takes the way used least recently: key 2's, when
  // every other key was used after it; the others keep their copies.
  for (KeyId id = 2; id <= kFull; ++id) view.Find(id, now);
  view.Find(1, now);
  view.Find(kExtra, now);
  const HotFacts::Found extra = view.Find(kExtra, now);
  ASSERT_NE(extra.entry, nullptr);
  EXPECT_EQ(extra.entry, entries[1]);
  EXPECT_EQ(view.Peek(2, now), nullptr);
  for (KeyId id = 1; id <= kFull; ++id) {
    if (id != 2) EXPECT_EQ(view.Peek(id, now), entries[id - 1]) << id;
  }
}

// Keys taking turns (a benchmark rotating over its keys, clients interleaving): with room in the
// set, each is copied on its second L1 hit even though others came between.
TEST(HotFactsTest, KeysTakingTurnsInASetWithRoomAreCopiedOnTheirSecondHit) {
  ManualClock clock;
  L1Cache l1{L1Options{}, clock};
  HotFacts hot{l1, 1};  // one set of kWays ways
  constexpr KeyId kKeys = HotFacts::kWays;
  for (KeyId id = 1; id <= kKeys; ++id) ASSERT_TRUE(Fill(l1, Facts(id, "o")));
  HotFacts::View view = hot.Acquire();
  const TimeMs now = clock.NowMs();
  for (KeyId id = 1; id <= kKeys; ++id) EXPECT_EQ(view.Find(id, now).entry, nullptr) << id;
  std::vector<HotFacts::Entry*> entries;
  for (KeyId id = 1; id <= kKeys; ++id) {
    entries.push_back(view.Find(id, now).entry);
    ASSERT_NE(entries.back(), nullptr) << id;
  }
  for (KeyId i = 0; i < 3 * kKeys; ++i) {
    EXPECT_EQ(view.Find(1 + i % kKeys, now).entry, entries[i % kKeys]) << i;
  }
}

TEST(HotFactsTest, ScopeDecisionsAreKeptWithTheCopyUpToTheBound) {
  Fixture f;
  ASSERT_TRUE(Fill(f.l1, Facts(1, "owner")));
  HotFacts::View view = f.hot.Acquire();
  view.Find(1, f.clock.NowMs());
  HotFacts::Entry* e = view.Find(1, f.clock.NowMs()).entry;
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(HotFacts::View::Decision(*e, "files:read").has_value());
  HotFacts::View::RememberDecision(*e, "files:read", true);
  HotFacts::View::RememberDecision(*e, "files:write", false);
  HotFacts::View::RememberDecision(*e, "files:delete", false);  // beyond the bound: not kept
  EXPECT_EQ(HotFacts::View::Decision(*e, "files:read"), true);
  EXPECT_EQ(HotFacts::View::Decision(*e, "files:write"), false);
  EXPECT_FALSE(HotFacts::View::Decision(*e, "files:delete").has_value());
  f.l1.InvalidateKey(7);
  f.l1.InvalidateKey(7);  // (any change retires the copy and, with it, its decisions)
  view.Find(1, f.clock.NowMs());
  HotFacts::Entry* fresh = view.Find(1, f.clock.NowMs()).entry;
  ASSERT_NE(fresh, nullptr);
  EXPECT_FALSE(HotFacts::View::Decision(*fresh, "files:read").has_value());
}

TEST(HotFactsTest, AThreadWhoseSlotIsInUseGoesWithoutAndZeroEntriesTurnItOff) {
  Fixture f;
  HotFacts::View held = f.hot.Acquire();
  ASSERT_TRUE(held);
  EXPECT_FALSE(f.hot.Acquire()) << "the slot is held (by this very thread, as by a slot-mate)";
  { HotFacts::View moved = std::move(held); }
  EXPECT_TRUE(f.hot.Acquire()) << "released with the View";
  HotFacts off(f.l1, 0);
  EXPECT_FALSE(off.Acquire());
}

// A writer keeps replacing one key's facts (store commit, InvalidateKey, refill); reader threads
// look it up through their fronts. A reader that starts after InvalidateKey(v) returned must never
// see a version older than v.
TEST(HotFactsRaceTest, NoReaderStartingAfterAnInvalidationSeesTheOldFacts) {
  ManualClock clock;
  L1Cache l1{L1Options{}, clock};
  HotFacts hot{l1, 64};
  constexpr KeyId kId = 5;
  constexpr int kReaders = 2;
  constexpr int kWrites = 2000;
  std::atomic<int> published{0};  // the newest version whose invalidation has returned
  std::atomic<bool> stop{false};
  std::atomic<int> stale{0};
  std::atomic<long> copies_used{0};
  ASSERT_TRUE(Fill(l1, Facts(kId, "0")));
  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const int floor = published.load(std::memory_order_acquire);
        HotFacts::View view = hot.Acquire();
        if (!view) continue;
        const HotFacts::Found found = view.Find(kId, clock.NowMs());
        if (!found.facts) continue;  // between the invalidation and the refill
        if (std::stoi(found.facts->owner_id) < floor) stale.fetch_add(1);
        if (found.entry != nullptr) copies_used.fetch_add(1);
      }
    });
  }
  for (int v = 1; v <= kWrites; ++v) {
    l1.InvalidateKey(kId);  // the store committed version v
    published.store(v, std::memory_order_release);
    Fill(l1, Facts(kId, std::to_string(v)));
    if (v % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  stop.store(true);
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(stale.load(), 0);
  EXPECT_GT(copies_used.load(), 0) << "the readers never used a copy: the check means nothing";
}

}  // namespace
}  // namespace keycache
