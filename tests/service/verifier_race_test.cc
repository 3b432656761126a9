// Concurrency of the Verifier's miss path: coalescing (one store read for many simultaneous
// misses) and the fill fence (a read that began before a revocation never yields VALID to a
// verification that started after the revocation, and never leaves VALID in the cache).
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <vector>

#include "service/verifier.h"
#include "service_test_util.h"

namespace keycache {
namespace {

using testing::IoThread;
using testing::ServiceHarness;

// Counts its start, then verifies; the count lets the test know every coroutine has begun.
boost::asio::awaitable<Result<VerifyOutcome>> CountedVerify(Verifier& verifier,
                                                            std::atomic<int>& started,
                                                            std::string key) {
  started.fetch_add(1);
  std::vector<std::string> scopes;
  std::string ip(testing::kClientIp);
  co_return co_await verifier.Verify(std::move(key), std::move(scopes), std::move(ip));
}

TEST(SingleFlightTest, FiftyConcurrentMissesOfOneColdKeyMakeOneStoreRead) {
  IoThread second;  // a second I/O thread with its own executor, as the HTTP server has;
                    // declared first so that it outlives the harness's database jobs
  ServiceHarness h;
  const CreatedKey created = h.Create("owner-1");
  ASSERT_EQ(h.store.find_calls.load(), 0);

  // The first read stalls until every verification has joined, so none can be served by the
  // cache fill: each one either joins the flight or (if coalescing were broken) reads itself.
  h.store.HoldNextFindById();
  constexpr int kPerContext = 25;
  std::atomic<int> started{0};
  std::vector<std::future<Result<VerifyOutcome>>> results;
  for (int i = 0; i < kPerContext; ++i) {
    results.push_back(h.io.Spawn(CountedVerify(h.verifier, started, created.key)));
    results.push_back(second.Spawn(CountedVerify(h.verifier, started, created.key)));
  }
  ASSERT_TRUE(h.store.WaitUntilHeld());
  ASSERT_TRUE(testing::PollUntil([&] { return started.load() == 2 * kPerContext; }));
  // A coroutine runs from its start to its first suspension (waiting for the flight) in one
  // handler, so once both contexts have drained, every verification is waiting.
  ASSERT_TRUE(h.io.Drain());
  ASSERT_TRUE(second.Drain());
  h.store.Release();

  for (auto& f : results) {
    auto r = IoThread::Get(std::move(f));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->code, VerifyCode::kValid);
    EXPECT_EQ(r->cache, CacheStatus::kMiss);
  }
  EXPECT_EQ(h.store.find_calls.load(), 1);
  auto pending = h.usage.Pending(created.record.id);
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->count, 2u * kPerContext);
}

// The revocation race. Verification A misses and its store read takes a snapshot of the key
// while it is still active, then stalls. The key is revoked through KeyService (commit, then
// invalidate) and the revoke returns. Verifications that start now must say REVOKED, whether
// they join A's flight or come after it, and the cache must not keep A's stale facts.
TEST(FillFenceTest, ARevocationDuringAStalledMissLoadWins) {
  ServiceHarness h;  // two database threads: one stalls, the other commits the revoke
  const CreatedKey created = h.Create("owner-1");
  const KeyId id = created.record.id;

  h.store.HoldNextFindById();
  auto a = h.SpawnVerify(created.key);
  ASSERT_TRUE(h.store.WaitUntilHeld());  // A read the active record and is stuck

  const KeyRecord revoked = h.Revoke(id);
  ASSERT_NE(revoked.revoked_at, kNever);

  // Started after the revoke returned, while A's read is still stuck: they join A's flight.
  std::vector<std::future<Result<VerifyOutcome>>> after;
  for (int i = 0; i < 5; ++i) after.push_back(h.SpawnVerify(created.key));
  ASSERT_TRUE(h.io.Drain());
  if (auto mid = h.VerifyCached(created.key)) {
    EXPECT_NE(mid->code, VerifyCode::kValid);
  }
  h.store.Release();

  auto first = IoThread::Get(std::move(a));
  ASSERT_TRUE(first) << first.error().message();
  // A began before the revoke, so VALID would be acceptable for it; REVOKED is too (the flight
  // reads again after the revoke overtook its read).
  EXPECT_TRUE(first->code == VerifyCode::kValid || first->code == VerifyCode::kRevoked)
      << VerifyCodeName(first->code);
  for (auto& f : after) {
    auto r = IoThread::Get(std::move(f));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->code, VerifyCode::kRevoked);
  }

  auto cached = h.VerifyCached(created.key);
  if (cached.has_value()) {
    EXPECT_EQ(cached->code, VerifyCode::kRevoked);
  }
  auto later = h.Verify(created.key);
  ASSERT_TRUE(later);
  EXPECT_EQ(later->code, VerifyCode::kRevoked);
  if (first->code != VerifyCode::kValid) {
    EXPECT_FALSE(h.usage.Pending(id).has_value());
  }
}

// The same race with nobody joining the flight: the stale read must not land in the cache.
TEST(FillFenceTest, AStaleReadDoesNotFillTheCacheAfterARevocation) {
  ServiceHarness h;
  const CreatedKey created = h.Create("owner-1");
  ASSERT_TRUE(h.Verify(created.key));     // cached VALID...
  h.l1.InvalidateKey(created.record.id);  // ...then evicted, so the next verification misses

  h.store.HoldNextFindById();
  auto a = h.SpawnVerify(created.key);
  ASSERT_TRUE(h.store.WaitUntilHeld());
  h.Revoke(created.record.id);
  h.store.Release();
  auto first = IoThread::Get(std::move(a));
  ASSERT_TRUE(first);

  for (int i = 0; i < 3; ++i) {
    auto cached = h.VerifyCached(created.key);
    if (cached.has_value()) {
      EXPECT_EQ(cached->code, VerifyCode::kRevoked);
    }
    auto full = h.Verify(created.key);
    ASSERT_TRUE(full);
    EXPECT_EQ(full->code, VerifyCode::kRevoked);
  }
}

// A stalled read of an id that does not exist yet must not plant "no such key" over a key
// that was created meanwhile (creation invalidates the id, like any change).
TEST(FillFenceTest, AStaleNotFoundDoesNotHideAKeyCreatedMeanwhile) {
  ServiceHarness h;
  auto generated = testing::Must(GenerateKey("ak", h.hasher), "GenerateKey");

  h.store.HoldNextFindById();
  auto a = h.SpawnVerify(generated.key);
  ASSERT_TRUE(h.store.WaitUntilHeld());  // A read "no such key" and is stuck

  KeyRecord r;
  r.id = generated.id;
  r.owner_id = "owner-1";
  r.name = "late";
  r.hash = generated.hash;
  r.created_at = r.updated_at = h.clock.NowMs();
  ASSERT_TRUE(h.sqlite->Insert(r, 10));
  L1Invalidator(h.l1).Announce(CacheChange::Key(r.id, r.owner_id), {});  // as Create does
  h.store.Release();
  ASSERT_TRUE(IoThread::Get(std::move(a)));

  auto cached = h.VerifyCached(generated.key);
  if (cached.has_value()) {
    EXPECT_EQ(cached->code, VerifyCode::kValid);
  }
  auto full = h.Verify(generated.key);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->code, VerifyCode::kValid);
}

}  // namespace
// Found by the model-based test: a type-wide invalidation overtakes every fill in flight, and
// under a steady stream of them (and slow reads) a flight that read again until a read went
// unovertaken gave up after four tries with a 503. Now the fourth overtaken read answers the
// requests that asked before it began; it only fills nothing.
TEST(FillFenceTest, AReadOvertakenEveryTimeStillAnswersWhoAskedBeforeItAndCachesNothing) {
  ServiceHarness h;
  const CreatedKey created = h.InsertDirect("owner-1");
  std::atomic<int> reads{0};
  h.store.after_find = [&](KeyId) {
    reads.fetch_add(1);
    h.l1.ClearAll();  // a clear lands while every read is in flight
  };
  for (int i = 0; i < 3; ++i) {
    auto r = h.Verify(created.key);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->code, VerifyCode::kValid);
    EXPECT_FALSE(h.l1.GetFacts(created.record.id).has_value()) << "an overtaken read was cached";
  }
  EXPECT_EQ(reads.load(), 3 * 4) << "four reads per verification, the last one answering";
  h.store.after_find = nullptr;
  auto healed = h.Verify(created.key);
  ASSERT_TRUE(healed);
  EXPECT_EQ(healed->code, VerifyCode::kValid);
  EXPECT_TRUE(h.l1.GetFacts(created.record.id).has_value());
}

}  // namespace keycache
