// Verifier against the real SqliteStore: where each answer comes from (BYPASS / MISS / HIT), how
// many store reads it costs, every verdict, and that usage is counted only for VALID.
#include "service/verifier.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/api_key.h"
#include "service_test_util.h"

namespace keycache {
namespace {

using testing::Must;
using testing::ServiceHarness;

constexpr const char* kScopeHits =
    "cache_hits_total{cache_type=\"scope\",key_type=\"api_key\",tier=\"l1\"}";
constexpr const char* kScopeMisses =
    "cache_misses_total{cache_type=\"scope\",key_type=\"api_key\"}";

// A well-formed key for `id` whose secret differs from the stored one.
std::string OtherSecretFor(KeyId id) {
  return Must(GenerateKeyWithId("ak", id, KeyHasher(testing::kPepper)), "generate").key;
}

class VerifierTest : public ::testing::Test {
 protected:
  // Stores a key issued in the legacy format, as an older version (or another instance running
  // one) did, straight into the store; returns it.
  GeneratedKey InsertLegacy(KeyId id) {
    GeneratedKey legacy = Must(GenerateLegacyKeyWithId("ak", id, h_.hasher), "legacy");
    KeyRecord r;
    r.id = legacy.id;
    r.owner_id = "owner-legacy";
    r.name = "issued before tags";
    r.scopes = {"users:read"};
    r.hash = legacy.hash;
    r.format = KeyFormat::kLegacy;
    r.created_at = r.updated_at = h_.clock.NowMs();
    EXPECT_TRUE(h_.sqlite->Insert(r, 10));
    return legacy;
  }

  ServiceHarness h_;
};

TEST_F(VerifierTest, MalformedKeysAreAnsweredWithoutAStoreRead) {
  const CreatedKey created = h_.Create("owner-1");
  std::string bad_checksum = created.key;
  bad_checksum.back() = bad_checksum.back() == 'A' ? 'B' : 'A';
  const std::vector<std::string> malformed = {"",
                                              "garbage",
                                              "ak_",
                                              "ak_short",
                                              "sk" + created.key.substr(2),  // wrong prefix
                                              bad_checksum,
                                              created.key + "x",
                                              created.key.substr(0, created.key.size() - 1)};
  for (const std::string& key : malformed) {
    SCOPED_TRACE(key);
    auto cached = h_.VerifyCached(key);
    ASSERT_TRUE(cached.has_value());
    EXPECT_EQ(cached->code, VerifyCode::kMalformed);
    EXPECT_EQ(cached->cache, CacheStatus::kBypass);
    EXPECT_EQ(cached->facts, nullptr);
    auto full = h_.Verify(key);
    ASSERT_TRUE(full);
    EXPECT_EQ(full->code, VerifyCode::kMalformed);
    EXPECT_EQ(full->cache, CacheStatus::kBypass);
  }
  EXPECT_EQ(h_.store.find_calls.load(), 0);
  EXPECT_EQ(h_.usage.Size(), 0u);
}

TEST_F(VerifierTest, ColdKeyIsAMissThenAHitWithOneStoreRead) {
  const CreatedKey created = h_.Create("owner-1");
  EXPECT_FALSE(h_.VerifyCached(created.key).has_value());  // cold: the store must be read

  auto first = h_.Verify(created.key);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->code, VerifyCode::kValid);
  EXPECT_EQ(first->cache, CacheStatus::kMiss);
  ASSERT_NE(first->facts, nullptr);
  EXPECT_EQ(first->facts->id, created.record.id);
  EXPECT_EQ(first->facts->owner_id, "owner-1");
  EXPECT_EQ(h_.store.find_calls.load(), 1);

  auto second = h_.Verify(created.key);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->code, VerifyCode::kValid);
  EXPECT_EQ(second->cache, CacheStatus::kHit);
  EXPECT_EQ(h_.store.find_calls.load(), 1);
}

TEST_F(VerifierTest, VerifyCachedAnswersAnL1HitWithoutTheStore) {
  const CreatedKey created = h_.Create("owner-1");
  ASSERT_TRUE(h_.Verify(created.key));
  const int reads = h_.store.find_calls.load();
  for (int i = 0; i < 3; ++i) {
    auto cached = h_.VerifyCached(created.key);
    ASSERT_TRUE(cached.has_value());
    EXPECT_EQ(cached->code, VerifyCode::kValid);
    EXPECT_EQ(cached->cache, CacheStatus::kHit);
    ASSERT_NE(cached->facts, nullptr);
    EXPECT_EQ(cached->facts->id, created.record.id);
  }
  EXPECT_EQ(h_.store.find_calls.load(), reads);
}

TEST_F(VerifierTest, UnknownIdIsReadOnceThenAnsweredFromTheNegativeCache) {
  const std::string unknown = Must(GenerateKey("ak", KeyHasher(testing::kPepper)), "generate").key;
  auto first = h_.Verify(unknown);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->code, VerifyCode::kNotFound);
  EXPECT_EQ(first->cache, CacheStatus::kMiss);
  EXPECT_EQ(first->facts, nullptr);
  EXPECT_EQ(h_.store.find_calls.load(), 1);

  auto cached = h_.VerifyCached(unknown);
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->code, VerifyCode::kNotFound);
  EXPECT_EQ(cached->cache, CacheStatus::kHit);
  auto again = h_.Verify(unknown);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->code, VerifyCode::kNotFound);
  EXPECT_EQ(again->cache, CacheStatus::kHit);
  EXPECT_EQ(h_.store.find_calls.load(), 1);
}

TEST_F(VerifierTest, NegativeEntryExpiresAfterItsTtl) {
  const std::string unknown = Must(GenerateKey("ak", KeyHasher(testing::kPepper)), "generate").key;
  ASSERT_EQ(h_.Verify(unknown).value().code, VerifyCode::kNotFound);
  h_.clock.Advance(L1Options{}.negative_ttl_ms + 1);
  EXPECT_FALSE(h_.VerifyCached(unknown).has_value());
  auto again = h_.Verify(unknown);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->code, VerifyCode::kNotFound);
  EXPECT_EQ(again->cache, CacheStatus::kMiss);
  EXPECT_EQ(h_.store.find_calls.load(), 2);
}

TEST_F(VerifierTest, WrongSecretForARealIdIsNotFoundAndRevealsNothing) {
  const CreatedKey created = h_.Create("owner-1", {"*"});
  const std::string forged = OtherSecretFor(created.record.id);
  ASSERT_NE(forged, created.key);

  auto miss = h_.Verify(forged);  // cold: answered from a store read
  ASSERT_TRUE(miss);
  EXPECT_EQ(miss->code, VerifyCode::kNotFound);
  EXPECT_EQ(miss->facts, nullptr);

  ASSERT_TRUE(h_.Verify(created.key));  // now the real key's facts are cached
  auto hit = h_.VerifyCached(forged);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->code, VerifyCode::kNotFound);
  EXPECT_EQ(hit->cache, CacheStatus::kHit);
  EXPECT_EQ(hit->facts, nullptr);

  // Even a revoked key does not say "REVOKED" to someone who does not hold its secret.
  h_.Revoke(created.record.id);
  auto after = h_.Verify(forged);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->code, VerifyCode::kNotFound);
  EXPECT_EQ(after->facts, nullptr);
  auto pending = h_.usage.Pending(created.record.id);
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->count, 1u);  // only the one VALID verification of the real key
}

// A key verified again and again on one thread is recognised by its proof tag after its first
// HMAC check on the thread's hot copy (core/proof_tag.h): no HMAC then, and every verdict that
// does not depend on the secret (scope, expiry, revocation) is still decided each time, while
// any other bytes for the same id take the full check.
TEST_F(VerifierTest, AHotKeyIsRecognisedByItsProofTagAndEveryVerdictStillHolds) {
  constexpr const char* kSkipped = "keycache_verifications_hmac_skipped_total";
  const TimeMs expires = h_.clock.NowMs() + 60'000;
  const CreatedKey created = h_.Create("owner-1", {"users:read"}, expires);
  ASSERT_TRUE(h_.Verify(created.key));  // a miss: L1 filled
  // The first L1 hit at its table position marks the key; the second copies it to the thread's
  // table and is checked with HMAC there (proven); later ones are recognised by the tag.
  for (int i = 0; i < 5; ++i) {
    auto r = h_.VerifyCached(created.key, {"users:read"});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->code, VerifyCode::kValid) << i;
    EXPECT_EQ(r->cache, CacheStatus::kHit);
  }
  EXPECT_EQ(h_.Metric(kSkipped), 3);

  // Another secret for the same id: full check, refused, and the tag stays the real key's.
  const std::string forged = OtherSecretFor(created.record.id);
  auto other = h_.VerifyCached(forged);
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->code, VerifyCode::kNotFound);
  EXPECT_EQ(other->facts, nullptr);
  EXPECT_EQ(h_.Metric(kSkipped), 3);
  std::string truncated = created.key;
  truncated.pop_back();
  auto malformed = h_.VerifyCached(truncated);
  ASSERT_TRUE(malformed.has_value());
  EXPECT_EQ(malformed->code, VerifyCode::kMalformed);
  // Same length, same id digits, one other character (in the secret, the tag or the checksum,
  // or one outside the alphabet): a proven tag vouches for none of them, and each fails the
  // checksum or alphabet check of the full path as it would on a cold key.
  const std::size_t id_end = created.key.find('_') + 2 + kKeyIdChars;
  for (std::size_t at : {id_end, id_end + kSecretChars - 1, created.key.size() - kChecksumChars - 1,
                         created.key.size() - 1}) {
    for (char c : {'0', 'z', '-'}) {
      std::string variant = created.key;
      if (variant[at] == c) continue;
      variant[at] = c;
      ASSERT_EQ(PeekKeyId("ak", variant).value(), created.record.id) << variant;
      auto refused = h_.VerifyCached(variant);
      ASSERT_TRUE(refused.has_value());
      EXPECT_EQ(refused->code, VerifyCode::kMalformed) << at << " " << c;
      EXPECT_EQ(refused->facts, nullptr);
    }
  }
  EXPECT_EQ(h_.Metric(kSkipped), 3);

  auto scope = h_.VerifyCached(created.key, {"users:write"});
  ASSERT_TRUE(scope.has_value());
  EXPECT_EQ(scope->code, VerifyCode::kInsufficientScope);
  EXPECT_EQ(h_.Metric(kSkipped), 4);
  h_.clock.Set(expires);
  auto expired = h_.VerifyCached(created.key);
  ASSERT_TRUE(expired.has_value());
  EXPECT_EQ(expired->code, VerifyCode::kExpired);
  EXPECT_EQ(h_.Metric(kSkipped), 5);
  h_.clock.Set(expires - 1);

  // A revocation retires every thread's copy: the verdict comes from L1 or the store again.
  h_.Revoke(created.record.id);
  for (int i = 0; i < 4; ++i) {
    auto r = h_.Verify(created.key);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, VerifyCode::kRevoked) << i;
  }
  EXPECT_GE(h_.Metric(kSkipped), 5);
  auto forged_after = h_.Verify(forged);
  ASSERT_TRUE(forged_after);
  EXPECT_EQ(forged_after->code, VerifyCode::kNotFound);
}

TEST_F(VerifierTest, ALegacyKeyIsRecognisedByItsProofTagOnlyWhenItsBytesMatch) {
  const GeneratedKey legacy = InsertLegacy(4242);
  const std::string other =
      Must(GenerateLegacyKeyWithId("ak", 4242, KeyHasher(std::string(40, 'z'))), "other").key;
  ASSERT_NE(other, legacy.key);
  for (int i = 0; i < 4; ++i) {
    auto r = h_.Verify(legacy.key);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, VerifyCode::kValid) << i;
  }
  EXPECT_GE(h_.Metric("keycache_verifications_hmac_skipped_total"), 1);
  // Legacy keys carry no tag: a well-formed legacy key with another secret reaches the hash
  // comparison, on the proven copy too, and is refused there.
  for (int i = 0; i < 3; ++i) {
    auto r = h_.Verify(other);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, VerifyCode::kNotFound) << i;
    EXPECT_EQ(r->facts, nullptr);
  }
  auto again = h_.Verify(legacy.key);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->code, VerifyCode::kValid);
}

TEST_F(VerifierTest, ExpiredKeyIsExpiredFromTheCacheOnceTheClockPassesExpiry) {
  const TimeMs expires = h_.clock.NowMs() + 10'000;
  const CreatedKey created = h_.Create("owner-1", {"users:read"}, expires);
  auto before = h_.Verify(created.key);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->code, VerifyCode::kValid);

  h_.clock.Set(expires - 1);
  auto still = h_.VerifyCached(created.key);
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->code, VerifyCode::kValid);

  h_.clock.Set(expires);
  auto expired = h_.VerifyCached(created.key);
  ASSERT_TRUE(expired.has_value());
  EXPECT_EQ(expired->code, VerifyCode::kExpired);
  EXPECT_EQ(expired->cache, CacheStatus::kHit);
  ASSERT_NE(expired->facts, nullptr);  // the caller holds the key: it may learn why
  EXPECT_EQ(expired->facts->id, created.record.id);
}

TEST_F(VerifierTest, DisabledKeyIsDisabled) {
  const CreatedKey created = h_.Create("owner-1");
  KeyPatch patch;
  patch.enabled = false;
  Must(h_.io.Await(h_.keys.Update(created.record.id, patch)), "Update");
  auto r = h_.Verify(created.key);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, VerifyCode::kDisabled);
  ASSERT_NE(r->facts, nullptr);
  auto cached = h_.VerifyCached(created.key);
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->code, VerifyCode::kDisabled);
}

TEST_F(VerifierTest, RevokedKeyIsRevokedOnMissAndOnHit) {
  const CreatedKey created = h_.Create("owner-1");
  h_.Revoke(created.record.id);
  auto miss = h_.Verify(created.key);
  ASSERT_TRUE(miss);
  EXPECT_EQ(miss->code, VerifyCode::kRevoked);
  EXPECT_EQ(miss->cache, CacheStatus::kMiss);
  ASSERT_NE(miss->facts, nullptr);
  auto hit = h_.Verify(created.key);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->code, VerifyCode::kRevoked);
  EXPECT_EQ(hit->cache, CacheStatus::kHit);
}

TEST_F(VerifierTest, MissingRequiredScopeIsInsufficientScope) {
  const CreatedKey created = h_.Create("owner-1", {"users:read", "reports:*"});
  struct Case {
    std::vector<std::string> scopes;
    VerifyCode want;
  };
  const std::vector<Case> cases = {
      {{}, VerifyCode::kValid},
      {{"users:read"}, VerifyCode::kValid},
      {{"reports:export"}, VerifyCode::kValid},
      {{"users:read", "reports:delete"}, VerifyCode::kValid},
      {{"users:write"}, VerifyCode::kInsufficientScope},
      {{"users:read", "users:write"}, VerifyCode::kInsufficientScope},
      {{"billing:read"}, VerifyCode::kInsufficientScope},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.scopes));
    auto r = h_.Verify(created.key, c.scopes);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, c.want);
    ASSERT_NE(r->facts, nullptr);
    auto cached = h_.VerifyCached(created.key, c.scopes);
    ASSERT_TRUE(cached.has_value());
    EXPECT_EQ(cached->code, c.want);
  }
}

TEST_F(VerifierTest, ScopeDecisionIsCachedAfterTheFirstDecision) {
  const CreatedKey created = h_.Create("owner-1", {"users:read"});
  const KeyId id = created.record.id;
  EXPECT_FALSE(h_.l1.GetScopeDecision(id, "users:read").has_value());

  auto first = h_.Verify(created.key, {"users:read"});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->code, VerifyCode::kValid);
  EXPECT_EQ(h_.Metric(kScopeMisses), 1);
  EXPECT_EQ(h_.Metric(kScopeHits), 0);
  EXPECT_EQ(h_.l1.GetScopeDecision(id, "users:read"), std::optional<bool>(true));

  auto second = h_.VerifyCached(created.key, {"users:read"});
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->code, VerifyCode::kValid);
  EXPECT_EQ(h_.Metric(kScopeHits), 1);
  EXPECT_EQ(h_.Metric(kScopeMisses), 1);

  // A denial is a decision too.
  auto denied = h_.Verify(created.key, {"users:write"});
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->code, VerifyCode::kInsufficientScope);
  EXPECT_EQ(h_.l1.GetScopeDecision(id, "users:write"), std::optional<bool>(false));
  auto denied_again = h_.VerifyCached(created.key, {"users:write"});
  ASSERT_TRUE(denied_again.has_value());
  EXPECT_EQ(denied_again->code, VerifyCode::kInsufficientScope);
  EXPECT_EQ(h_.Metric(kScopeHits), 2);
  EXPECT_EQ(h_.Metric(kScopeMisses), 2);
  EXPECT_EQ(h_.store.find_calls.load(), 1);
}

TEST_F(VerifierTest, UsageIsRecordedOnlyForValid) {
  const CreatedKey good = h_.Create("owner-1", {"users:read"});
  const CreatedKey revoked = h_.Create("owner-1");
  const CreatedKey disabled = h_.Create("owner-1");
  const CreatedKey expiring = h_.Create("owner-1", {"users:read"}, h_.clock.NowMs() + 5);
  h_.Revoke(revoked.record.id);
  KeyPatch off;
  off.enabled = false;
  Must(h_.io.Await(h_.keys.Update(disabled.record.id, off)), "Update");

  ASSERT_TRUE(h_.Verify(good.key, {"users:read"}, "203.0.113.1"));
  ASSERT_TRUE(h_.Verify(good.key, {}, "203.0.113.2"));
  h_.clock.Advance(1);
  ASSERT_TRUE(h_.VerifyCached(good.key, {"users:read"}).has_value());  // a HIT counts as well
  ASSERT_TRUE(h_.Verify(good.key, {"users:write"}));                   // INSUFFICIENT_SCOPE
  ASSERT_TRUE(h_.Verify(OtherSecretFor(good.record.id)));              // NOT_FOUND
  ASSERT_TRUE(h_.Verify(revoked.key));
  ASSERT_TRUE(h_.Verify(disabled.key));
  h_.clock.Advance(10);
  ASSERT_TRUE(h_.Verify(expiring.key));
  ASSERT_TRUE(h_.Verify("ak_malformed"));

  auto pending = h_.usage.Pending(good.record.id);
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->count, 3u);
  EXPECT_EQ(pending->last_used_ip, std::string(testing::kClientIp));
  EXPECT_EQ(h_.usage.Size(), 1u);
  EXPECT_FALSE(h_.usage.Pending(revoked.record.id).has_value());
  EXPECT_FALSE(h_.usage.Pending(disabled.record.id).has_value());
  EXPECT_FALSE(h_.usage.Pending(expiring.record.id).has_value());
}

TEST_F(VerifierTest, StoreFailureIsAnErrorNotAVerdictAndCachesNothing) {
  const CreatedKey created = h_.Create("owner-1");
  h_.store.fail_find = true;
  auto failed = h_.Verify(created.key);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), Errc::kDatabase);
  EXPECT_FALSE(h_.VerifyCached(created.key).has_value());

  h_.store.fail_find = false;
  auto healed = h_.Verify(created.key);
  ASSERT_TRUE(healed);
  EXPECT_EQ(healed->code, VerifyCode::kValid);
  EXPECT_EQ(healed->cache, CacheStatus::kMiss);
}

TEST(VerifierTimeoutTest, AStalledStoreReadGivesTimeoutAndLaterFillsTheCache) {
  testing::HarnessOptions options;
  options.db_timeout = std::chrono::milliseconds(20);
  ServiceHarness h(options);
  const CreatedKey created = h.InsertDirect("owner-1");
  h.store.HoldNextFindById();
  auto pending = h.SpawnVerify(created.key);
  ASSERT_TRUE(h.store.WaitUntilHeld());
  auto timed_out = testing::IoThread::Get(std::move(pending));  // the read is still held
  ASSERT_FALSE(timed_out);
  EXPECT_EQ(timed_out.error(), Errc::kTimeout);

  h.store.Release();
  // The abandoned read still completes its fill; nothing changed meanwhile, so it is accepted.
  ASSERT_TRUE(testing::PollUntil([&] { return h.VerifyCached(created.key).has_value(); }));
  EXPECT_EQ(h.VerifyCached(created.key).value().code, VerifyCode::kValid);
}

// A store that reads many keys in one round trip (PostgreSQL) gets the reads that queued while
// its database threads were busy in one call; each waiter still gets its own key's answer.
TEST(VerifierBatchTest, ReadsQueuedBehindABusyDatabaseThreadGoInOneStoreCall) {
  testing::HarnessOptions options;
  options.db_threads = 1;
  ServiceHarness h(options);
  h.store.reads_many_at_once = true;
  const CreatedKey first = h.InsertDirect("owner-1");
  std::vector<CreatedKey> queued;
  for (int i = 0; i < 3; ++i) queued.push_back(h.InsertDirect("owner-" + std::to_string(i)));
  Must(h.sqlite->Revoke(queued[1].record.id, h.clock.NowMs(), "test", h.clock.NowMs()), "Revoke");
  const std::string unknown = Must(GenerateKey("ak", KeyHasher(testing::kPepper)), "generate").key;

  h.store.HoldNextFindById();
  auto held = h.SpawnVerify(first.key);
  ASSERT_TRUE(h.store.WaitUntilHeld());  // the only database thread is busy
  std::vector<std::future<Result<VerifyOutcome>>> waiting;
  for (const CreatedKey& k : queued) waiting.push_back(h.SpawnVerify(k.key));
  waiting.push_back(h.SpawnVerify(unknown));
  // Every one of them has asked for its read (the counter moves before the read is queued).
  ASSERT_TRUE(testing::PollUntil(
      [&] { return h.Metric("keycache_store_reads_total") == 1 + waiting.size(); }));
  h.store.Release();

  EXPECT_EQ(testing::IoThread::Get(std::move(held)).value().code, VerifyCode::kValid);
  std::vector<VerifyCode> codes;
  for (auto& w : waiting) codes.push_back(testing::IoThread::Get(std::move(w)).value().code);
  EXPECT_EQ(codes, (std::vector<VerifyCode>{VerifyCode::kValid, VerifyCode::kRevoked,
                                            VerifyCode::kValid, VerifyCode::kNotFound}));
  // The held read alone, then the four that queued behind it together.
  EXPECT_EQ(h.store.batch_sizes(), (std::vector<std::size_t>{1, 4}));
  EXPECT_EQ(h.store.find_calls.load(), 5);
  // And each answer filled L1.
  for (const CreatedKey& k : queued) EXPECT_TRUE(h.VerifyCached(k.key).has_value());
}

TEST(VerifierBypassTest, CacheDisabledReadsTheStoreEveryTime) {
  testing::HarnessOptions options;
  options.cache_enabled = false;
  ServiceHarness h(options);
  const CreatedKey created = h.Create("owner-1", {"users:read"});
  const std::string unknown = Must(GenerateKey("ak", KeyHasher(testing::kPepper)), "generate").key;

  for (int i = 1; i <= 3; ++i) {
    EXPECT_FALSE(h.VerifyCached(created.key).has_value());
    auto r = h.Verify(created.key, {"users:read"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, VerifyCode::kValid);
    EXPECT_EQ(r->cache, CacheStatus::kBypass);
    auto denied = h.Verify(created.key, {"users:write"});
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->code, VerifyCode::kInsufficientScope);
    EXPECT_EQ(denied->cache, CacheStatus::kBypass);
    auto missing = h.Verify(unknown);
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->code, VerifyCode::kNotFound);
    EXPECT_EQ(missing->cache, CacheStatus::kBypass);
    EXPECT_EQ(h.store.find_calls.load(), 3 * i);
  }
  auto malformed = h.VerifyCached("nope");
  ASSERT_TRUE(malformed.has_value());
  EXPECT_EQ(malformed->code, VerifyCode::kMalformed);
  const L1Sizes sizes = h.l1.Sizes();
  EXPECT_EQ(sizes.validation + sizes.negative + sizes.scope, 0u);
  auto pending = h.usage.Pending(created.record.id);
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->count, 3u);

  h.Revoke(created.record.id);  // bypass sees a change at once
  auto revoked = h.Verify(created.key);
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->code, VerifyCode::kRevoked);
}

// Keys keycache never issued are refused after the HMAC, before any cache or store lookup: a
// tagged key minted without the pepper fails its tag, whatever id it names.
TEST_F(VerifierTest, ForgedTaggedKeysAreRefusedWithoutALookup) {
  const CreatedKey created = h_.Create("owner-1");
  const KeyHasher attacker("an attacker's guess at the pepper, 32+ bytes");
  std::vector<std::string> forged;
  for (int i = 0; i < 20; ++i) forged.push_back(Must(GenerateKey("ak", attacker), "generate").key);
  forged.push_back(Must(GenerateKeyWithId("ak", created.record.id, attacker), "generate").key);
  for (const std::string& key : forged) {
    SCOPED_TRACE(key);
    auto cached = h_.VerifyCached(key);
    ASSERT_TRUE(cached.has_value()) << "a forged key needs no slow path";
    EXPECT_EQ(cached->code, VerifyCode::kNotFound);
    EXPECT_EQ(cached->cache, CacheStatus::kBypass);
    EXPECT_EQ(cached->facts, nullptr);
  }
  EXPECT_EQ(h_.store.find_calls.load(), 0);
  EXPECT_EQ(h_.store.legacy_calls.load(), 0);
  const L1Sizes sizes = h_.l1.Sizes();
  EXPECT_EQ(sizes.negative, 0u) << "forged keys must not fill the negative cache";
  EXPECT_EQ(h_.Verify(created.key).value().code, VerifyCode::kValid);
}

// Keys issued in the legacy format (before tags) keep verifying; legacy-format keys with other
// ids are refused from the set of legacy ids, which is read from the store at most once per
// interval however many arrive.
TEST_F(VerifierTest, LegacyKeysStillVerifyAndForgedOnesCostOneReloadPerInterval) {
  const GeneratedKey legacy = InsertLegacy(4242);

  auto first = h_.Verify(legacy.key, {"users:read"});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->code, VerifyCode::kValid);
  EXPECT_EQ(first->cache, CacheStatus::kMiss);
  EXPECT_EQ(h_.store.legacy_calls.load(), 1);
  EXPECT_EQ(h_.verifier.legacy_ids().size(), 1u);
  auto again = h_.VerifyCached(legacy.key, {"users:read"});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->code, VerifyCode::kValid);
  EXPECT_EQ(again->cache, CacheStatus::kHit);

  // A legacy key with a wrong secret for that id reaches the lookup (its id is legacy) and
  // reveals nothing.
  const std::string wrong = Must(GenerateLegacyKeyWithId("ak", 4242, h_.hasher), "legacy").key;
  auto refused = h_.Verify(wrong);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, VerifyCode::kNotFound);
  EXPECT_EQ(refused->facts, nullptr);

  const int finds = h_.store.find_calls.load();
  for (KeyId id = 1; id <= 50; ++id) {
    const std::string forged = Must(GenerateLegacyKeyWithId("ak", id * 7919, h_.hasher), "l").key;
    auto v = h_.Verify(forged);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->code, VerifyCode::kNotFound);
    EXPECT_EQ(v->cache, CacheStatus::kBypass);
  }
  EXPECT_EQ(h_.store.find_calls.load(), finds) << "a forged legacy key reached the store";
  EXPECT_EQ(h_.store.legacy_calls.load(), 1) << "the clock did not move: no reload is due";

  // A legacy key stored by another instance (an older version during a rolling upgrade) after the
  // last reload is refused until the next reload is due, then found.
  const GeneratedKey late = InsertLegacy(777);
  EXPECT_EQ(h_.Verify(late.key).value().code, VerifyCode::kNotFound);
  h_.clock.Advance(1000);
  auto found = h_.Verify(late.key);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->code, VerifyCode::kValid);
  EXPECT_EQ(h_.store.legacy_calls.load(), 2);
}

// Until the legacy ids have been read once, legacy keys are looked up as before (a key must not
// be refused because the set is still loading).
TEST_F(VerifierTest, LegacyKeysAreLookedUpWhileTheLegacyIdsAreUnknown) {
  const GeneratedKey legacy = InsertLegacy(99);
  h_.store.HoldNextListLegacyIds();
  auto reloading = h_.SpawnVerify(legacy.key);  // claims the reload, which stalls
  ASSERT_TRUE(h_.store.WaitUntilHeld());
  EXPECT_FALSE(h_.verifier.legacy_ids().known());
  auto meanwhile = h_.Verify(legacy.key);
  ASSERT_TRUE(meanwhile);
  EXPECT_EQ(meanwhile->code, VerifyCode::kValid);
  h_.store.Release();
  auto done = reloading.get();
  ASSERT_TRUE(done);
  EXPECT_EQ(done->code, VerifyCode::kValid);
  EXPECT_TRUE(h_.verifier.legacy_ids().known());
}

}  // namespace
}  // namespace keycache
