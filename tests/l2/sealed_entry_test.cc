// The L2 value format: compact, sealed, bound to its Redis key name.
#include "l2/sealed_entry.h"

#include <gtest/gtest.h>

#include "core/key_hasher.h"

namespace keycache {
namespace {

FactsAnswer Answer(const KeyFacts& f) {
  return FactsAnswer::Found(std::make_shared<const KeyFacts>(f));
}

const std::string kPepper(40, 'p');

KeyFacts SampleFacts() {
  KeyFacts f;
  f.id = 42;
  f.hash = KeyHasher(kPepper).Hash("ak_example");
  f.expires_at = 1'800'000'000'000;
  f.revoked_at = kNever;
  f.enabled = true;
  f.owner_id = "team-7";
  f.scopes = {"reports:read", "billing:*"};
  return f;
}

TEST(SealedEntry, FactsRoundTripWithTheirGeneration) {
  const EntrySealer sealer(kPepper);
  const KeyFacts f = SampleFacts();
  const std::string value = sealer.SealFacts("p:v:{x}", 7, Answer(f));
  auto opened = sealer.OpenFacts("p:v:{x}", 42, value);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->generation, 7u);
  ASSERT_TRUE(opened->answer.found());
  EXPECT_EQ(opened->answer.facts().id, 42u);
  EXPECT_EQ(opened->answer.facts().hash, f.hash);
  EXPECT_EQ(opened->answer.facts().expires_at, f.expires_at);
  EXPECT_EQ(opened->answer.facts().revoked_at, kNever);
  EXPECT_TRUE(opened->answer.facts().enabled);
  EXPECT_EQ(opened->answer.facts().owner_id, "team-7");
  EXPECT_EQ(opened->answer.facts().scopes, f.scopes);
}

TEST(SealedEntry, RevokedAndDisabledStatesSurvive) {
  const EntrySealer sealer(kPepper);
  KeyFacts f = SampleFacts();
  f.revoked_at = 1'700'000'000'123;
  f.enabled = false;
  f.expires_at = kNever;
  f.scopes.clear();
  auto opened = sealer.OpenFacts("n", 42, sealer.SealFacts("n", 0, Answer(f)));
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->answer.facts().revoked_at, 1'700'000'000'123);
  EXPECT_FALSE(opened->answer.facts().enabled);
  EXPECT_EQ(opened->answer.facts().expires_at, kNever);
  EXPECT_TRUE(opened->answer.facts().scopes.empty());
}

TEST(SealedEntry, MissingKeyIsAnEntryWithoutFacts) {
  const EntrySealer sealer(kPepper);
  auto opened = sealer.OpenFacts("n", 1, sealer.SealFacts("n", 3, FactsAnswer::Absent()));
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->generation, 3u);
  EXPECT_FALSE(opened->answer.found());
}

TEST(SealedEntry, IsCompact) {
  const EntrySealer sealer(kPepper);
  const KeyFacts f = SampleFacts();
  // header 10 + hash 32 + times ~7 + flag 1 + owner 7 + scopes 24 + tag 16
  EXPECT_LT(sealer.SealFacts("n", 1, Answer(f)).size(), 110u);
}

TEST(SealedEntry, AnyFlippedByteIsRefused) {
  const EntrySealer sealer(kPepper);
  const KeyFacts f = SampleFacts();
  const std::string value = sealer.SealFacts("n", 1, Answer(f));
  for (std::size_t i = 0; i < value.size(); ++i) {
    std::string tampered = value;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    EXPECT_FALSE(sealer.OpenFacts("n", 42, tampered)) << "byte " << i;
  }
}

TEST(SealedEntry, AnEntryMovedToAnotherKeyNameIsRefused) {
  const EntrySealer sealer(kPepper);
  const KeyFacts f = SampleFacts();
  const std::string value = sealer.SealFacts("p:v:{A}", 1, Answer(f));
  EXPECT_FALSE(sealer.OpenFacts("p:v:{B}", 42, value));
}

TEST(SealedEntry, AnotherPepperCannotSealOrOpen) {
  const EntrySealer ours(kPepper);
  const EntrySealer theirs(std::string(40, 'q'));
  const KeyFacts f = SampleFacts();
  EXPECT_FALSE(ours.OpenFacts("n", 42, theirs.SealFacts("n", 1, Answer(f))));
}

TEST(SealedEntry, TruncatedAndGarbageValuesAreRefused) {
  const EntrySealer sealer(kPepper);
  const KeyFacts f = SampleFacts();
  const std::string value = sealer.SealFacts("n", 1, Answer(f));
  for (std::size_t n = 0; n < value.size(); ++n) {
    EXPECT_FALSE(sealer.OpenFacts("n", 42, value.substr(0, n))) << n;
  }
  EXPECT_FALSE(sealer.OpenFacts("n", 42, "hello"));
  EXPECT_FALSE(sealer.OpenFacts("n", 42, std::string(200, '\xff')));
}

TEST(SealedEntry, BlobsRoundTripAndAreNotFacts) {
  const EntrySealer sealer(kPepper);
  const std::string value = sealer.SealBlob("u", 9, R"({"keys":[]})");
  auto blob = sealer.OpenBlob("u", value);
  ASSERT_TRUE(blob);
  EXPECT_EQ(blob->generation, 9u);
  EXPECT_EQ(blob->body, R"({"keys":[]})");
  EXPECT_FALSE(sealer.OpenFacts("u", 1, value));
  const KeyFacts f = SampleFacts();
  EXPECT_FALSE(sealer.OpenBlob("n", sealer.SealFacts("n", 1, Answer(f))));
}

TEST(SealedEntry, TheStoredValueHoldsNeitherThePepperNorAReusableSecret) {
  const EntrySealer sealer(kPepper);
  const KeyFacts f = SampleFacts();
  const std::string value = sealer.SealFacts("n", 1, Answer(f));
  EXPECT_EQ(value.find(kPepper.substr(0, 8)), std::string::npos);
  EXPECT_EQ(value.find("ak_example"), std::string::npos);
}

}  // namespace
}  // namespace keycache
