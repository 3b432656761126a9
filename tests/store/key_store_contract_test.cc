// The KeyStore contract: every case runs against each implementation (a real SQLite file, a
// real PostgreSQL server), so that the service sees one behaviour whichever store it runs on.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/key_archive.h"
#include "store_backend.h"
#include "store_test_util.h"

namespace keycache {
namespace {

using testing::ExpectSameRecord;
using testing::MakeRecord;

constexpr TimeMs kT0 = 1'700'000'000'000;
constexpr KeyId kTopBitId = 0x8000'0000'0000'0001ULL;

class KeyStoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = testing::MakeBackend(GetParam());
    store_ = backend_->Open(log_);
    ASSERT_NE(store_, nullptr);
  }

  void InsertOk(const KeyRecord& r, std::size_t limit = 100) {
    auto inserted = store_->Insert(r, limit);
    ASSERT_TRUE(inserted) << inserted.error().message();
  }

  KeyRecord Find(KeyId id) {
    auto found = store_->FindById(id);
    EXPECT_TRUE(found && found->has_value());
    return found && found->has_value() ? **found : KeyRecord{};
  }

  std::vector<KeyId> Ids(const Result<std::vector<KeyRecord>>& records) {
    std::vector<KeyId> ids;
    EXPECT_TRUE(records);
    if (records) {
      for (const KeyRecord& r : *records) ids.push_back(r.id);
    }
    return ids;
  }

  Logger log_{LogLevel::kWarn};
  std::unique_ptr<testing::StoreBackend> backend_;
  std::unique_ptr<KeyStore> store_;
};

TEST_P(KeyStoreContract, RoundTripsEveryField) {
  KeyRecord r;
  r.id = kTopBitId;
  r.owner_id = "owner-1";
  r.name = "Prod key \xC3\xA9";  // UTF-8
  r.scopes = {"users:read", "reports:*", "*:read", "*"};
  r.hash = testing::HashFor(r.id);
  r.created_at = kT0;
  r.updated_at = kT0 + 1;
  r.expires_at = kT0 + 86'400'000;
  r.enabled = false;
  r.revoked_at = kT0 + 3'600'000;
  r.revoked_reason = "leaked in a log";
  r.replaced_by = 0xFFFF'FFFF'FFFF'FFFEULL;
  r.last_used_at = kT0 + 5;
  r.last_used_ip = "2001:db8::1";
  r.usage_count = 42;
  r.metadata_json = R"({"team":"billing","tags":["a","b"]})";
  InsertOk(r);
  ExpectSameRecord(Find(r.id), r);
}

TEST_P(KeyStoreContract, KeepsEachKeysFormatAndListsTheLegacyIdsInOrder) {
  for (KeyId id : {KeyId{30}, kTopBitId, KeyId{10}, KeyId{20}}) {
    KeyRecord r = MakeRecord(id, "owner-1", kT0);
    r.format = id == 20 ? KeyFormat::kTagged : KeyFormat::kLegacy;
    InsertOk(r);
    EXPECT_EQ(Find(id).format, r.format);
  }
  auto legacy = store_->ListLegacyIds();
  ASSERT_TRUE(legacy);
  EXPECT_EQ(*legacy, (std::vector<KeyId>{10, 30, kTopBitId}));
  ASSERT_TRUE(store_->Delete(30));
  legacy = store_->ListLegacyIds();
  ASSERT_TRUE(legacy);
  EXPECT_EQ(*legacy, (std::vector<KeyId>{10, kTopBitId}));
  // Rotation issues a tagged key whatever the old one was.
  KeyRecord fresh = MakeRecord(40, "owner-1", kT0 + 1);
  ASSERT_TRUE(store_->Rotate(10, fresh, kT0 + 1, kT0 + 1));
  EXPECT_EQ(Find(40).format, KeyFormat::kTagged);
  EXPECT_EQ(Find(10).format, KeyFormat::kLegacy);
}

TEST_P(KeyStoreContract, RoundTripsDefaultsAndStoresNoneAsNull) {
  KeyRecord r = MakeRecord(kTopBitId, "owner-1", kT0);
  r.scopes = {};
  InsertOk(r);
  KeyRecord back = Find(r.id);
  ExpectSameRecord(back, r);
  EXPECT_EQ(back.expires_at, kNever);
  EXPECT_EQ(back.revoked_at, kNever);

  testing::StoreBackend& raw = *backend_;
  // The uint64 id is stored bit-cast to int64.
  EXPECT_EQ(raw.Text("SELECT id FROM api_keys"), "-9223372036854775807");
  EXPECT_EQ(raw.Text("SELECT expires_at FROM api_keys"), "NULL");
  EXPECT_EQ(raw.Text("SELECT revoked_at FROM api_keys"), "NULL");
  EXPECT_EQ(raw.Text("SELECT replaced_by FROM api_keys"), "NULL");
  EXPECT_EQ(raw.Text("SELECT last_used_at FROM api_keys"), "NULL");
  EXPECT_EQ(raw.Text("SELECT metadata FROM api_keys"), "NULL");
  EXPECT_EQ(raw.Text("SELECT revoked_reason FROM api_keys"), "NULL");
  EXPECT_EQ(raw.Text("SELECT length(key_hash) FROM api_keys"), "32");  // a blob/bytea of 32
}

TEST_P(KeyStoreContract, FindByIdOfUnknownIdIsEmpty) {
  auto found = store_->FindById(12345);
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->has_value());
}

TEST_P(KeyStoreContract, FindByIdsAnswersEachIdInOrder) {
  const KeyRecord a = MakeRecord(101, "owner-a", 1000);
  const KeyRecord b = MakeRecord(102, "owner-b", 2000);
  InsertOk(a);
  InsertOk(b);
  const std::vector<KeyId> ids = {102, 999, 101, 102};
  auto found = store_->FindByIds(ids);
  ASSERT_EQ(found.size(), ids.size());
  for (const auto& r : found) ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(found[0]->has_value());
  ExpectSameRecord(**found[0], b);
  EXPECT_FALSE(found[1]->has_value());
  ASSERT_TRUE(found[2]->has_value());
  ExpectSameRecord(**found[2], a);
  ASSERT_TRUE(found[3]->has_value());
  ExpectSameRecord(**found[3], b);
  EXPECT_TRUE(store_->FindByIds({}).empty());
  auto one = store_->FindByIds(std::vector<KeyId>{101});
  ASSERT_EQ(one.size(), 1u);
  ASSERT_TRUE(one[0] && one[0]->has_value());
  ExpectSameRecord(**one[0], a);
}

TEST_P(KeyStoreContract, DuplicateIdIsConflict) {
  InsertOk(MakeRecord(7, "a", kT0));
  auto again = store_->Insert(MakeRecord(7, "b", kT0 + 1), 100);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Errc::kConflict);
  EXPECT_EQ(Find(7).owner_id, "a");
}

TEST_P(KeyStoreContract, ScopesTheEncodingCannotCarryAreRejected) {
  KeyRecord r = MakeRecord(1, "a", kT0);
  r.scopes = {"users:read\nadmin:*"};
  auto inserted = store_->Insert(r, 100);
  ASSERT_FALSE(inserted);
  EXPECT_EQ(inserted.error(), Errc::kBadInput);
  r.scopes = {""};
  EXPECT_FALSE(store_->Insert(r, 100));
  EXPECT_EQ(*store_->CountKeys(), 0u);
}

TEST_P(KeyStoreContract, OwnerLimitCountsOnlyUnrevokedKeysOfThatOwner) {
  InsertOk(MakeRecord(1, "a", kT0), 2);
  InsertOk(MakeRecord(2, "a", kT0), 2);
  auto third = store_->Insert(MakeRecord(3, "a", kT0), 2);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error(), Errc::kLimitExceeded);
  InsertOk(MakeRecord(4, "b", kT0), 2);  // another owner has its own budget

  // A key with any revoked_at (even in the future) no longer counts.
  ASSERT_TRUE(store_->Revoke(1, kT0 + 3'600'000, "later", kT0));
  InsertOk(MakeRecord(3, "a", kT0), 2);

  auto zero = store_->Insert(MakeRecord(5, "c", kT0), 0);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error(), Errc::kLimitExceeded);
}

TEST_P(KeyStoreContract, UpdateChangesOnlyThePatchedFields) {
  KeyRecord r = MakeRecord(1, "a", kT0);
  r.expires_at = kT0 + 1000;
  r.metadata_json = R"({"x":1})";
  InsertOk(r);

  KeyPatch name_only;
  name_only.name = "renamed";
  auto updated = store_->Update(1, name_only, kT0 + 10);
  ASSERT_TRUE(updated);
  KeyRecord expected = r;
  expected.name = "renamed";
  expected.updated_at = kT0 + 10;
  ExpectSameRecord(*updated, expected);
  ExpectSameRecord(Find(1), expected);

  KeyPatch all;
  all.scopes = std::vector<std::string>{"reports:*", "*"};
  all.expires_at = kNever;  // clears the expiry
  all.enabled = false;
  all.metadata_json = "";  // clears the metadata
  updated = store_->Update(1, all, kT0 + 20);
  ASSERT_TRUE(updated);
  expected.scopes = {"reports:*", "*"};
  expected.expires_at = kNever;
  expected.enabled = false;
  expected.metadata_json = "";
  expected.updated_at = kT0 + 20;
  ExpectSameRecord(*updated, expected);
  ExpectSameRecord(Find(1), expected);

  auto missing = store_->Update(99, name_only, kT0);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), Errc::kNotFound);
}

TEST_P(KeyStoreContract, RevokeInTheFutureCanBeBroughtForwardButNotPostponed) {
  InsertOk(MakeRecord(1, "a", kT0));
  auto first = store_->Revoke(1, kT0 + 3'600'000, "scheduled", kT0 + 1);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->revoked_at, kT0 + 3'600'000);
  EXPECT_EQ(first->revoked_reason, "scheduled");
  EXPECT_EQ(first->updated_at, kT0 + 1);

  // Later than the existing revocation: nothing changes.
  auto later = store_->Revoke(1, kT0 + 7'200'000, "postponed", kT0 + 2);
  ASSERT_TRUE(later);
  ExpectSameRecord(*later, *first);
  ExpectSameRecord(Find(1), *first);

  auto now = store_->Revoke(1, kT0 + 3, "compromised", kT0 + 3);
  ASSERT_TRUE(now);
  EXPECT_EQ(now->revoked_at, kT0 + 3);
  EXPECT_EQ(now->revoked_reason, "compromised");
  EXPECT_EQ(now->updated_at, kT0 + 3);
  ExpectSameRecord(Find(1), *now);

  auto missing = store_->Revoke(99, kT0, "x", kT0);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), Errc::kNotFound);
  EXPECT_EQ(store_->Revoke(1, kNever, "x", kT0).error(), Errc::kBadInput);
}

TEST_P(KeyStoreContract, RotateInsertsReplacementAndSchedulesOldRevocation) {
  InsertOk(MakeRecord(1, "a", kT0), 1);
  KeyRecord fresh = MakeRecord(kTopBitId, "a", kT0 + 10);
  // No owner limit applies: "a" is already at its limit of 1.
  auto rotated = store_->Rotate(1, fresh, kT0 + 60'000, kT0 + 10);
  ASSERT_TRUE(rotated) << rotated.error().message();
  EXPECT_EQ(rotated->id, 1u);
  EXPECT_EQ(rotated->revoked_at, kT0 + 60'000);
  EXPECT_EQ(rotated->revoked_reason, "rotated");
  EXPECT_EQ(rotated->replaced_by, kTopBitId);
  EXPECT_EQ(rotated->updated_at, kT0 + 10);
  ExpectSameRecord(Find(1), *rotated);
  ExpectSameRecord(Find(kTopBitId), fresh);

  // The old key is already (scheduled to be) revoked: conflict, and nothing is inserted.
  auto again = store_->Rotate(1, MakeRecord(3, "a", kT0 + 20), kT0 + 60'000, kT0 + 20);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Errc::kConflict);
  auto gone = store_->Rotate(99, MakeRecord(4, "a", kT0 + 20), kT0 + 60'000, kT0 + 20);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error(), Errc::kNotFound);
  EXPECT_EQ(*store_->CountKeys(), 2u);
}

TEST_P(KeyStoreContract, RotateIsAtomicWhenTheReplacementIdIsTaken) {
  InsertOk(MakeRecord(1, "a", kT0));
  InsertOk(MakeRecord(2, "b", kT0));
  auto rotated = store_->Rotate(1, MakeRecord(2, "a", kT0 + 10), kT0 + 60'000, kT0 + 10);
  ASSERT_FALSE(rotated);
  EXPECT_EQ(rotated.error(), Errc::kConflict);
  ExpectSameRecord(Find(1), MakeRecord(1, "a", kT0));  // old key untouched
  EXPECT_EQ(Find(2).owner_id, "b");
}

TEST_P(KeyStoreContract, DeleteReturnsTheDeletedRecord) {
  KeyRecord r = MakeRecord(kTopBitId, "a", kT0);
  r.metadata_json = R"({"k":"v"})";
  InsertOk(r);
  InsertOk(MakeRecord(2, "a", kT0));
  auto deleted = store_->Delete(kTopBitId);
  ASSERT_TRUE(deleted);
  ExpectSameRecord(*deleted, r);
  auto found = store_->FindById(kTopBitId);
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->has_value());
  EXPECT_EQ(*store_->CountKeys(), 1u);
  auto again = store_->Delete(kTopBitId);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Errc::kNotFound);
}

TEST_P(KeyStoreContract, ListByOwnerIsNewestFirstAndOnlyThatOwner) {
  InsertOk(MakeRecord(10, "a", kT0 + 1));
  InsertOk(MakeRecord(11, "a", kT0 + 3));
  InsertOk(MakeRecord(12, "b", kT0 + 4));
  InsertOk(MakeRecord(13, "a", kT0 + 2));
  InsertOk(MakeRecord(14, "a", kT0 + 3));  // same created_at as 11: higher id first
  EXPECT_EQ(Ids(store_->ListByOwner("a")), (std::vector<KeyId>{14, 11, 13, 10}));
  EXPECT_EQ(Ids(store_->ListByOwner("b")), (std::vector<KeyId>{12}));
  EXPECT_TRUE(Ids(store_->ListByOwner("nobody")).empty());
}

TEST_P(KeyStoreContract, TopByUsageIsMostUsedFirstAndSkipsKeysRevokedByNow) {
  const TimeMs now = kT0 + 1000;
  auto with_usage = [&](KeyId id, std::uint64_t count, TimeMs revoked_at) {
    KeyRecord r = MakeRecord(id, "a", kT0);
    r.usage_count = count;
    r.revoked_at = revoked_at;
    InsertOk(r);
  };
  with_usage(1, 5, kNever);
  with_usage(2, 50, kNever);
  with_usage(3, 500, now - 1);  // revoked in the past: excluded
  with_usage(4, 400, now);      // revoked exactly now: excluded
  with_usage(5, 300, now + 1);  // revoked in the future (rotation grace): included
  with_usage(6, 50, kNever);    // ties with 2: lower id first
  EXPECT_EQ(Ids(store_->TopByUsage(10, now)), (std::vector<KeyId>{5, 2, 6, 1}));
  EXPECT_EQ(Ids(store_->TopByUsage(2, now)), (std::vector<KeyId>{5, 2}));
  EXPECT_TRUE(Ids(store_->TopByUsage(0, now)).empty());
}

TEST_P(KeyStoreContract, AddUsageSumsCountsAndKeepsTheNewestUse) {
  InsertOk(MakeRecord(1, "a", kT0));
  InsertOk(MakeRecord(2, "a", kT0));
  const std::vector<UsageDelta> first = {
      {1, 3, kT0 + 100, "10.0.0.1"},
      {1, 4, kT0 + 50, "10.0.0.2"},  // older than the one before: counts, but ip/time stay
      {2, 1, kT0 + 10, "10.0.0.3"},
  };
  ASSERT_TRUE(store_->AddUsage(first));
  KeyRecord one = Find(1);
  EXPECT_EQ(one.usage_count, 7u);
  EXPECT_EQ(one.last_used_at, kT0 + 100);
  EXPECT_EQ(one.last_used_ip, "10.0.0.1");
  EXPECT_EQ(Find(2).usage_count, 1u);

  const std::vector<UsageDelta> second = {
      {1, 10, kT0 + 100, "10.0.0.9"},  // same time, not newer: ip stays
      {2, 2, kT0 + 20, "10.0.0.4"},    // newer: both move
  };
  ASSERT_TRUE(store_->AddUsage(second));
  one = Find(1);
  EXPECT_EQ(one.usage_count, 17u);
  EXPECT_EQ(one.last_used_ip, "10.0.0.1");
  KeyRecord two = Find(2);
  EXPECT_EQ(two.usage_count, 3u);
  EXPECT_EQ(two.last_used_at, kT0 + 20);
  EXPECT_EQ(two.last_used_ip, "10.0.0.4");

  ASSERT_TRUE(store_->AddUsage(std::span<const UsageDelta>()));
  EXPECT_EQ(Find(1).usage_count, 17u);
}

TEST_P(KeyStoreContract, AddUsageDropsDeltasForDeletedKeys) {
  InsertOk(MakeRecord(1, "a", kT0));
  InsertOk(MakeRecord(2, "a", kT0));
  ASSERT_TRUE(store_->Delete(2));
  const std::vector<UsageDelta> deltas = {
      {2, 5, kT0 + 1, "10.0.0.1"},
      {1, 6, kT0 + 1, "10.0.0.2"},
      {kTopBitId, 7, kT0 + 1, "10.0.0.3"},
  };
  ASSERT_TRUE(store_->AddUsage(deltas));
  EXPECT_EQ(Find(1).usage_count, 6u);
  EXPECT_EQ(*store_->CountKeys(), 1u);  // nothing was created for the unknown ids
}

TEST_P(KeyStoreContract, AddUsageSaturatesInsteadOfOverflowing) {
  KeyRecord r = MakeRecord(1, "a", kT0);
  r.usage_count = INT64_MAX - 1;
  InsertOk(r);
  const std::vector<UsageDelta> deltas = {{1, 5, kT0 + 1, ""}};
  ASSERT_TRUE(store_->AddUsage(deltas));
  EXPECT_EQ(Find(1).usage_count, static_cast<std::uint64_t>(INT64_MAX));
}

TEST_P(KeyStoreContract, PingAndCountKeys) {
  EXPECT_TRUE(store_->Ping());
  EXPECT_EQ(*store_->CountKeys(), 0u);
  InsertOk(MakeRecord(1, "a", kT0));
  ASSERT_TRUE(store_->Revoke(1, kT0, "x", kT0));
  InsertOk(MakeRecord(2, "a", kT0));
  EXPECT_EQ(*store_->CountKeys(), 2u);  // revoked keys are still rows
}

TEST_P(KeyStoreContract, ExportPagesEveryRecordOnceAndImportIsIdempotent) {
  auto* archive = dynamic_cast<KeyArchive*>(store_.get());
  ASSERT_NE(archive, nullptr);
  std::vector<KeyRecord> records;
  for (KeyId id : {KeyId{7}, kTopBitId, KeyId{3}, KeyId{0xFFFF'FFFF'FFFF'FFFFULL}, KeyId{11}}) {
    KeyRecord r = MakeRecord(id, "owner-" + std::to_string(id % 2), kT0);
    r.usage_count = id % 100;
    r.last_used_at = kT0 + 9;
    r.last_used_ip = "192.0.2.1";
    records.push_back(r);
  }
  // Into another store of the same backend: every record, usage included, in one batch.
  auto other_backend = testing::MakeBackend(GetParam());
  std::unique_ptr<KeyStore> other = other_backend->Open(log_);
  ASSERT_NE(other, nullptr);
  auto* into = dynamic_cast<KeyArchive*>(other.get());
  for (const KeyRecord& r : records) InsertOk(r);
  std::vector<KeyRecord> exported;
  std::optional<KeyId> after;
  for (;;) {
    auto page = archive->ExportPage(after, 2);
    ASSERT_TRUE(page) << page.error().message();
    if (page->empty()) break;
    EXPECT_LE(page->size(), 2u);
    exported.insert(exported.end(), page->begin(), page->end());
    after = page->back().id;
  }
  ASSERT_EQ(exported.size(), records.size());
  KeyId conflict = 0;
  auto first = into->ImportBatch(exported, false, conflict);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->inserted, records.size());
  for (const KeyRecord& r : records) {
    auto found = other->FindById(r.id);
    ASSERT_TRUE(found && found->has_value());
    ExpectSameRecord(**found, r);
  }
  auto again = into->ImportBatch(exported, false, conflict);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->inserted, 0u);
  EXPECT_EQ(again->present, records.size());

  // Another key under a stored id: a conflict that rolls the whole batch back, or skipped.
  KeyRecord fresh = MakeRecord(99, "owner-new", kT0);
  KeyRecord clash = exported[1];
  clash.owner_id = "someone-else";
  const std::vector<KeyRecord> batch = {fresh, clash};
  auto refused = into->ImportBatch(batch, false, conflict);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), make_error_code(Errc::kConflict));
  EXPECT_EQ(conflict, clash.id);
  auto none = other->FindById(fresh.id);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value()) << "the batch was rolled back";
  auto skipped = into->ImportBatch(batch, true, conflict);
  ASSERT_TRUE(skipped);
  EXPECT_EQ(skipped->inserted, 1u);
  EXPECT_EQ(skipped->skipped, 1u);
  auto kept = other->FindById(clash.id);
  ASSERT_TRUE(kept && kept->has_value());
  EXPECT_EQ((*kept)->owner_id, exported[1].owner_id) << "the stored key stays";
}

INSTANTIATE_TEST_SUITE_P(Backends, KeyStoreContract, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace keycache
