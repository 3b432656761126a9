// KeyService over the real SqliteStore: the lifecycle operations, the owner's list cache and the
// invalidation each change owes the verification caches.
#include "service/key_service.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <set>
#include <string>
#include <vector>

#include "service/usage_flusher.h"
#include "service_test_util.h"

namespace keycache {
namespace {

using testing::Must;
using testing::ServiceHarness;

class KeyServiceTest : public ::testing::Test {
 protected:
  OwnerKeys List(const std::string& owner) {
    return Must(h_.io.Await(h_.keys.ListByOwner(owner)), "ListByOwner");
  }
  // The ids in a rendered owner list, and its "count".
  std::set<std::string> ListedIds(const OwnerKeys& list, std::int64_t* count = nullptr) {
    auto body = boost::json::parse(*list.json).as_object();
    if (count != nullptr) *count = body.at("count").to_number<std::int64_t>();
    std::set<std::string> ids;
    for (const auto& k : body.at("keys").as_array()) {
      ids.insert(std::string(k.as_object().at("id").as_string()));
    }
    return ids;
  }
  Result<VerifyOutcome> Verify(const std::string& key, std::vector<std::string> scopes = {}) {
    return h_.Verify(key, std::move(scopes));
  }

  ServiceHarness h_;
};

TEST_F(KeyServiceTest, CreateStoresTheHashAndReturnsAWorkingKey) {
  NewKey request;
  request.owner_id = "owner-1";
  request.name = "ci";
  request.scopes = {"users:read", "reports:*"};
  request.expires_at = h_.clock.NowMs() + 86'400'000;
  request.metadata_json = R"({"team":"billing"})";
  CreatedKey created = Must(h_.io.Await(h_.keys.Create(request)), "Create");

  EXPECT_EQ(created.key.rfind("ak_2", 0), 0u) << "a tagged key";
  const ParsedKey parsed = Must(ParseKeyParts("ak", created.key), "ParseKeyParts");
  const KeyHash expected = h_.hasher.Hash(parsed.hashed);
  EXPECT_EQ(created.record.hash, expected);
  EXPECT_EQ(created.record.format, KeyFormat::kTagged);
  EXPECT_TRUE(TagMatches(parsed, expected));
  KeyRecord stored = Must(h_.io.Await(h_.keys.Get(created.record.id)), "Get");
  EXPECT_EQ(stored.owner_id, "owner-1");
  EXPECT_EQ(stored.name, "ci");
  EXPECT_EQ(stored.scopes, request.scopes);
  EXPECT_EQ(stored.expires_at, request.expires_at);
  EXPECT_EQ(stored.metadata_json, request.metadata_json);
  EXPECT_EQ(stored.hash, expected);
  EXPECT_EQ(stored.format, KeyFormat::kTagged);
  EXPECT_EQ(stored.created_at, h_.clock.NowMs());
  EXPECT_EQ(stored.revoked_at, kNever);

  auto v = Verify(created.key, {"reports:export"});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->code, VerifyCode::kValid);
}

TEST_F(KeyServiceTest, GetOfAnUnknownIdIsNotFound) {
  auto r = h_.io.Await(h_.keys.Get(12345));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::kNotFound);
}

TEST_F(KeyServiceTest, OwnerListIsAMissThenAHitUntilThatOwnerChanges) {
  const CreatedKey a = h_.Create("owner-1");
  const CreatedKey other = h_.Create("owner-2");

  OwnerKeys first = List("owner-1");
  EXPECT_EQ(first.cache, CacheStatus::kMiss);
  std::int64_t count = -1;
  EXPECT_EQ(ListedIds(first, &count), std::set<std::string>{KeyIdToString(a.record.id)});
  EXPECT_EQ(count, 1);
  EXPECT_EQ(first.json->find("hash"), std::string::npos);
  OwnerKeys second = List("owner-1");
  EXPECT_EQ(second.cache, CacheStatus::kHit);
  EXPECT_EQ(*second.json, *first.json);
  EXPECT_EQ(List("owner-2").cache, CacheStatus::kMiss);
  EXPECT_EQ(List("owner-2").cache, CacheStatus::kHit);

  // Creating a key for owner-1 drops owner-1's list only.
  const CreatedKey b = h_.Create("owner-1");
  OwnerKeys after_create = List("owner-1");
  EXPECT_EQ(after_create.cache, CacheStatus::kMiss);
  EXPECT_EQ(ListedIds(after_create, &count),
            (std::set<std::string>{KeyIdToString(a.record.id), KeyIdToString(b.record.id)}));
  EXPECT_EQ(count, 2);
  EXPECT_EQ(List("owner-2").cache, CacheStatus::kHit);
  EXPECT_EQ(List("owner-1").cache, CacheStatus::kHit);

  // So does revoking one of its keys, and the list shows the new state.
  h_.Revoke(a.record.id);
  OwnerKeys after_revoke = List("owner-1");
  EXPECT_EQ(after_revoke.cache, CacheStatus::kMiss);
  EXPECT_NE(after_revoke.json->find("\"revoked\""), std::string::npos);
  EXPECT_EQ(List("owner-2").cache, CacheStatus::kHit);

  // And deleting one.
  Must(h_.io.Await(h_.keys.Delete(b.record.id)), "Delete");
  OwnerKeys after_delete = List("owner-1");
  EXPECT_EQ(after_delete.cache, CacheStatus::kMiss);
  EXPECT_EQ(ListedIds(after_delete), std::set<std::string>{KeyIdToString(a.record.id)});
  (void)other;
}

// A list read that began before a key was created must not be cached over the new list.
TEST_F(KeyServiceTest, AStaleOwnerListReadDoesNotLandAfterACreate) {
  const CreatedKey a = h_.Create("owner-1");
  h_.store.HoldNextListByOwner();
  auto stale = h_.io.Spawn(h_.keys.ListByOwner("owner-1"));
  ASSERT_TRUE(h_.store.WaitUntilHeld());  // it read the list with key a only
  const CreatedKey b = h_.Create("owner-1");
  // Asked after the create returned, while the held read runs: it joins that read's flight.
  auto after = h_.io.Spawn(h_.keys.ListByOwner("owner-1"));
  ASSERT_TRUE(h_.io.Drain());
  h_.store.Release();
  OwnerKeys first = Must(testing::IoThread::Get(std::move(stale)), "ListByOwner");
  OwnerKeys joined = Must(testing::IoThread::Get(std::move(after)), "ListByOwner");

  // The held read's fill was refused (the create overtook it); the flight read again for every
  // waiter, so the caller, the list asked after the create, and the cache all have b.
  const std::set<std::string> both{KeyIdToString(a.record.id), KeyIdToString(b.record.id)};
  EXPECT_EQ(ListedIds(first), both);
  EXPECT_EQ(ListedIds(joined), both) << "a list asked after the create must show it";
  OwnerKeys next = List("owner-1");
  EXPECT_EQ(next.cache, CacheStatus::kHit);
  EXPECT_EQ(ListedIds(next), both);
}

TEST_F(KeyServiceTest, OwnerWithoutKeysListsEmpty) {
  std::int64_t count = -1;
  OwnerKeys list = List("nobody");
  EXPECT_TRUE(ListedIds(list, &count).empty());
  EXPECT_EQ(count, 0);
}

TEST(KeyServiceBypassTest, OwnerListIsNotCachedWhenTheCacheIsDisabled) {
  testing::HarnessOptions options;
  options.cache_enabled = false;
  ServiceHarness h(options);
  h.Create("owner-1");
  for (int i = 0; i < 2; ++i) {
    auto list = Must(h.io.Await(h.keys.ListByOwner("owner-1")), "ListByOwner");
    EXPECT_EQ(list.cache, CacheStatus::kBypass);
  }
  EXPECT_EQ(h.l1.Sizes().user_list, 0u);
}

TEST_F(KeyServiceTest, UpdateDropsCachedFactsAndScopeDecisions) {
  const CreatedKey created = h_.Create("owner-1", {"users:read", "users:write"});
  const KeyId id = created.record.id;
  auto before = Verify(created.key, {"users:write"});
  ASSERT_TRUE(before);
  EXPECT_EQ(before->code, VerifyCode::kValid);
  ASSERT_EQ(h_.l1.GetScopeDecision(id, "users:write"), std::optional<bool>(true));
  ASSERT_TRUE(h_.VerifyCached(created.key, {"users:write"}).has_value());

  KeyPatch patch;
  patch.scopes = std::vector<std::string>{"users:read"};
  KeyRecord updated = Must(h_.io.Await(h_.keys.Update(id, patch)), "Update").value;
  EXPECT_EQ(updated.scopes, std::vector<std::string>{"users:read"});

  EXPECT_FALSE(h_.l1.GetScopeDecision(id, "users:write").has_value());
  EXPECT_FALSE(h_.VerifyCached(created.key, {"users:write"}).has_value());
  auto after = Verify(created.key, {"users:write"});
  ASSERT_TRUE(after);
  EXPECT_EQ(after->code, VerifyCode::kInsufficientScope);
  EXPECT_EQ(after->cache, CacheStatus::kMiss);
  auto still_read = Verify(created.key, {"users:read"});
  ASSERT_TRUE(still_read);
  EXPECT_EQ(still_read->code, VerifyCode::kValid);
  EXPECT_EQ(still_read->cache, CacheStatus::kHit);

  auto missing = h_.io.Await(h_.keys.Update(424242, patch));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), Errc::kNotFound);
}

TEST_F(KeyServiceTest, RevokeIsSeenByTheVeryNextVerification) {
  const CreatedKey created = h_.Create("owner-1");
  ASSERT_TRUE(Verify(created.key));
  ASSERT_EQ(h_.VerifyCached(created.key).value().code, VerifyCode::kValid);

  KeyRecord revoked =
      Must(h_.io.Await(h_.keys.Revoke(created.record.id, "leaked")), "Revoke").value;
  EXPECT_EQ(revoked.revoked_at, h_.clock.NowMs());
  EXPECT_EQ(revoked.revoked_reason, "leaked");
  EXPECT_FALSE(h_.VerifyCached(created.key).has_value());
  auto after = Verify(created.key);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->code, VerifyCode::kRevoked);

  auto missing = h_.io.Await(h_.keys.Revoke(424242, "x"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), Errc::kNotFound);
}

TEST_F(KeyServiceTest, RotateKeepsTheOldKeyValidUntilTheGraceEnds) {
  const CreatedKey old_key = h_.Create("owner-1", {"users:read"});
  ASSERT_EQ(Verify(old_key.key).value().code, VerifyCode::kValid);  // cached before the rotation
  const TimeMs rotated_at = h_.clock.NowMs();
  constexpr TimeMs kGrace = 60'000;

  CreatedKey fresh = Must(h_.io.Await(h_.keys.Rotate(old_key.record.id, kGrace)), "Rotate").value;
  // The reported end of the grace is the stored one.
  EXPECT_EQ(fresh.replaced_revoked_at,
            Must(h_.io.Await(h_.keys.Get(old_key.record.id)), "Get").revoked_at);
  EXPECT_NE(fresh.record.id, old_key.record.id);
  EXPECT_EQ(fresh.record.owner_id, "owner-1");
  EXPECT_EQ(fresh.record.scopes, old_key.record.scopes);
  KeyRecord old_stored = Must(h_.io.Await(h_.keys.Get(old_key.record.id)), "Get");
  EXPECT_EQ(old_stored.revoked_at, rotated_at + kGrace);
  EXPECT_EQ(old_stored.revoked_reason, "rotated");
  EXPECT_EQ(old_stored.replaced_by, fresh.record.id);

  EXPECT_FALSE(h_.VerifyCached(old_key.key).has_value());  // rotation invalidated the old facts
  auto during = Verify(old_key.key, {"users:read"});
  ASSERT_TRUE(during);
  EXPECT_EQ(during->code, VerifyCode::kValid);
  ASSERT_EQ(Verify(fresh.key, {"users:read"}).value().code, VerifyCode::kValid);

  h_.clock.Set(rotated_at + kGrace - 1);
  EXPECT_EQ(Verify(old_key.key).value().code, VerifyCode::kValid);
  h_.clock.Set(rotated_at + kGrace);
  EXPECT_EQ(Verify(old_key.key).value().code, VerifyCode::kRevoked);
  EXPECT_EQ(h_.VerifyCached(old_key.key).value().code, VerifyCode::kRevoked);
  h_.clock.Advance(3'600'000);
  EXPECT_EQ(Verify(old_key.key).value().code, VerifyCode::kRevoked);
  EXPECT_EQ(Verify(fresh.key).value().code, VerifyCode::kValid);

  // A key already on its way out cannot be rotated again; an unknown one is not found.
  auto again = h_.io.Await(h_.keys.Rotate(old_key.record.id, kGrace));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Errc::kConflict);
  auto unknown = h_.io.Await(h_.keys.Rotate(424242, kGrace));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error(), Errc::kNotFound);
}

TEST_F(KeyServiceTest, RevokingARotatedKeyDuringItsGraceEndsTheGrace) {
  const CreatedKey old_key = h_.Create("owner-1");
  CreatedKey fresh = Must(h_.io.Await(h_.keys.Rotate(old_key.record.id, 60'000)), "Rotate").value;
  ASSERT_EQ(Verify(old_key.key).value().code, VerifyCode::kValid);  // cached, in its grace
  KeyRecord revoked = h_.Revoke(old_key.record.id);
  EXPECT_EQ(revoked.revoked_at, h_.clock.NowMs());
  EXPECT_EQ(Verify(old_key.key).value().code, VerifyCode::kRevoked);
  EXPECT_EQ(Verify(fresh.key).value().code, VerifyCode::kValid);
}

TEST_F(KeyServiceTest, RotateWithoutGraceRevokesAtOnce) {
  const CreatedKey old_key = h_.Create("owner-1");
  CreatedKey fresh = Must(h_.io.Await(h_.keys.Rotate(old_key.record.id, 0)), "Rotate").value;
  EXPECT_EQ(Verify(old_key.key).value().code, VerifyCode::kRevoked);
  EXPECT_EQ(Verify(fresh.key).value().code, VerifyCode::kValid);
}

TEST_F(KeyServiceTest, DeleteRemovesTheKeyEverywhere) {
  const CreatedKey created = h_.Create("owner-1");
  ASSERT_EQ(Verify(created.key).value().code, VerifyCode::kValid);
  KeyRecord deleted = Must(h_.io.Await(h_.keys.Delete(created.record.id)), "Delete").value;
  EXPECT_EQ(deleted.owner_id, "owner-1");

  auto v = Verify(created.key);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->code, VerifyCode::kNotFound);
  EXPECT_EQ(v->facts, nullptr);
  auto get = h_.io.Await(h_.keys.Get(created.record.id));
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error(), Errc::kNotFound);
  auto twice = h_.io.Await(h_.keys.Delete(created.record.id));
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error(), Errc::kNotFound);
}

TEST(KeyServiceLimitTest, OwnerLimitCountsLiveKeysOnly) {
  testing::HarnessOptions options;
  options.max_keys_per_owner = 2;
  ServiceHarness h(options);
  const CreatedKey first = h.Create("owner-1");
  h.Create("owner-1");
  NewKey third;
  third.owner_id = "owner-1";
  third.name = "third";
  auto refused = h.io.Await(h.keys.Create(third));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), Errc::kLimitExceeded);
  EXPECT_EQ(Must(h.sqlite->ListByOwner("owner-1"), "list").size(), 2u);

  h.Create("owner-2");  // another owner is not affected
  // Rotation replaces a key, so it is allowed at the limit.
  Must(h.io.Await(h.keys.Rotate(first.record.id, 60'000)), "Rotate");
  // The rotated key no longer counts as live; revoke one more and there is room again.
  auto still_full = h.io.Await(h.keys.Create(third));
  ASSERT_FALSE(still_full);
  EXPECT_EQ(still_full.error(), Errc::kLimitExceeded);
  auto keys = Must(h.sqlite->ListByOwner("owner-1"), "list");
  for (const KeyRecord& k : keys) {
    if (k.revoked_at == kNever) {
      h.Revoke(k.id);
      break;
    }
  }
  EXPECT_TRUE(h.io.Await(h.keys.Create(third)));
}

TEST_F(KeyServiceTest, UsageAddsPendingCountsToTheStoredCount) {
  const CreatedKey created = h_.Create("owner-1");
  const KeyId id = created.record.id;
  KeyUsage none = Must(h_.io.Await(h_.keys.Usage(id)), "Usage");
  EXPECT_EQ(none.count, 0u);
  EXPECT_EQ(none.last_used_at, 0);

  for (int i = 0; i < 3; ++i) ASSERT_EQ(Verify(created.key).value().code, VerifyCode::kValid);
  KeyUsage pending = Must(h_.io.Await(h_.keys.Usage(id)), "Usage");
  EXPECT_EQ(pending.count, 3u);
  EXPECT_EQ(pending.last_used_at, h_.clock.NowMs());
  EXPECT_EQ(pending.last_used_ip, std::string(testing::kClientIp));

  UsageFlusher flusher(h_.usage, h_.store, h_.metrics, h_.log);
  ASSERT_EQ(Must(flusher.FlushOnce(), "FlushOnce"), 1u);
  EXPECT_EQ(Must(h_.io.Await(h_.keys.Usage(id)), "Usage").count, 3u);  // now all stored

  h_.clock.Advance(1'000);
  ASSERT_EQ(h_.Verify(created.key, {}, "203.0.113.50").value().code, VerifyCode::kValid);
  ASSERT_EQ(h_.Verify(created.key, {}, "203.0.113.51").value().code, VerifyCode::kValid);
  KeyUsage mixed = Must(h_.io.Await(h_.keys.Usage(id)), "Usage");
  EXPECT_EQ(mixed.count, 5u);
  EXPECT_EQ(mixed.last_used_at, h_.clock.NowMs());
  EXPECT_EQ(mixed.last_used_ip, "203.0.113.51");

  auto unknown = h_.io.Await(h_.keys.Usage(424242));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error(), Errc::kNotFound);
}

// The list renders each key's state, which changes by itself at expiry: a cached list must not
// outlive that moment (regression: it stayed "active" for the list's whole TTL).
TEST_F(KeyServiceTest, OwnerListIsNotCachedPastTheNextExpiry) {
  const TimeMs expiry = h_.clock.NowMs() + 10'000;
  h_.Create("owner-exp", {"users:read"}, expiry);
  OwnerKeys first = List("owner-exp");
  EXPECT_EQ(first.cache, CacheStatus::kMiss);
  EXPECT_NE(first.json->find("\"state\":\"active\""), std::string::npos) << *first.json;
  EXPECT_EQ(List("owner-exp").cache, CacheStatus::kHit);

  h_.clock.Set(expiry);
  OwnerKeys after = List("owner-exp");
  EXPECT_EQ(after.cache, CacheStatus::kMiss);
  EXPECT_NE(after.json->find("\"state\":\"expired\""), std::string::npos) << *after.json;
}

}  // namespace
}  // namespace keycache
