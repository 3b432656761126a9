// Issue 7, defect 2b, tested the way it was found: instance B runs in a network namespace of its
// own and its packets to and from Redis are dropped (nftables, no reset: a real partition) while
// instance A revokes a key. The cut instance must refuse that key for every request that arrives
// after the revocation's acknowledgement plus the coherence lease (ADR 0003: the bound holds by
// construction, not by detection; before the lease B kept saying VALID for ~12 s), and it keeps
// serving valid keys throughout (from the database). After the cut heals, B trusts its caches
// again by itself.
#include <gtest/gtest.h>

#include <chrono>

#include "model/model_cluster.h"

namespace keycache::testing::model {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kLease = 1000ms;  // the default KEYCACHE_COHERENCE_LEASE
// The bound the test holds the cut instance to: the lease, plus a margin for the time a request
// takes to reach the instance after the client stamped it.
constexpr auto kBound = kLease + 250ms;

TEST(Partition, ASilentlyCutInstanceRefusesAKeyRevokedElsewhereWithinTheLease) {
  ASSERT_TRUE(NetworkIsolationError().empty()) << NetworkIsolationError();
  ModelCluster cluster(2, {});
  ASSERT_TRUE(cluster.Start());
  const int b = cluster.isolated();
  auto api_a = cluster.Client(0);
  auto api_b = cluster.Client(b);
  for (ApiClient* api : {api_a.get(), api_b.get()}) ASSERT_TRUE(WaitCoherent(*api));

  const CreatedKey doomed = CreateKey(*api_a, UniqueOwner("cut"));
  const CreatedKey fine = CreateKey(*api_a, UniqueOwner("cut"));
  for (const CreatedKey* k : {&doomed, &fine}) {
    ASSERT_EQ(Verify(*api_b, k->key).Str("code"), "VALID");
    ASSERT_EQ(Verify(*api_b, k->key).Header("X-Cache-Status"), "HIT") << "B holds it in L1";
  }

  ASSERT_TRUE(cluster.netns().Cut(cluster.netns().outer_address(), cluster.redis().port()));
  const Reply revoked = api_a->Admin(http::verb::post, "/v1/keys/" + doomed.id + "/revoke", "{}");
  const auto acknowledged = Clock::now();
  ASSERT_EQ(revoked.status, 200u) << "A reaches Redis: its fence lands " << revoked.Describe();

  // Every request sent to B after the bound refuses the key; the valid key stays valid.
  int after_bound = 0, valid_answers = 0;
  std::chrono::milliseconds first_refusal{-1};
  while (Clock::now() - acknowledged < kBound + 3s) {
    const auto sent = Clock::now();
    const std::string code = Verify(*api_b, doomed.key).Str("code");
    if (code == "REVOKED" && first_refusal.count() < 0) {
      first_refusal = std::chrono::duration_cast<std::chrono::milliseconds>(sent - acknowledged);
    }
    if (sent - acknowledged > kBound) {
      ++after_bound;
      EXPECT_EQ(code, "REVOKED")
          << "B accepted a key revoked "
          << std::chrono::duration_cast<std::chrono::milliseconds>(sent - acknowledged).count()
          << " ms earlier, beyond the lease";
    } else {
      EXPECT_TRUE(code == "VALID" || code == "REVOKED") << code;
    }
    const Reply v = Verify(*api_b, fine.key);
    EXPECT_EQ(v.Str("code"), "VALID") << v.Describe();
    valid_answers += v.Str("code") == "VALID";
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_GT(after_bound, 10);
  EXPECT_GT(valid_answers, 10);
  std::printf("cut instance: first refusal %lld ms after the acknowledgement (bound %lld ms)\n",
              static_cast<long long>(first_refusal.count()),
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(kBound).count()));
  EXPECT_EQ(Verify(*api_b, fine.key).Header("X-Cache-Status"), "BYPASS")
      << "past the lease the database answers";

  ASSERT_TRUE(cluster.netns().Heal());
  EXPECT_TRUE(WaitCoherent(*api_b, 60s)) << "B must come back by itself";
  EXPECT_EQ(Verify(*api_b, doomed.key).Str("code"), "REVOKED");
  EXPECT_EQ(Verify(*api_b, fine.key).Str("code"), "VALID");
  for (int i = 0; i < b + 1; ++i) EXPECT_TRUE(cluster.Alive(i)) << i;
}

}  // namespace
}  // namespace keycache::testing::model
