// CoherenceLease: held from a renewal until the renewing heartbeat's send time plus the length;
// revocation lapses it at once and asks for a flush before the next renewal.
#include "l2/coherence_lease.h"

#include <gtest/gtest.h>

namespace keycache {
namespace {

using namespace std::chrono_literals;
using Clock = CoherenceLease::Clock;

TEST(CoherenceLease, StartsUnheldAndAsksForAFlush) {
  CoherenceLease lease(1s);
  EXPECT_FALSE(lease.Held());
  EXPECT_TRUE(lease.flush_needed());
}

TEST(CoherenceLease, RunsFromTheHeartbeatsSendTimeNotFromItsArrival) {
  CoherenceLease lease(1s);
  const auto sent = Clock::now() - 900ms;  // a heartbeat that took 900 ms to come back
  lease.Renew(sent);
  EXPECT_FALSE(lease.flush_needed());
  EXPECT_TRUE(lease.Held(sent + 999ms));
  EXPECT_FALSE(lease.Held(sent + 1s));
}

TEST(CoherenceLease, ARenewalNeverShortensIt) {
  CoherenceLease lease(1s);
  const auto now = Clock::now();
  lease.Renew(now);
  lease.Renew(now - 500ms);  // an older heartbeat heard late
  EXPECT_TRUE(lease.Held(now + 900ms));
}

TEST(CoherenceLease, RevocationLapsesItAtOnceUntilAFlushAndARenewal) {
  CoherenceLease lease(1s);
  lease.Renew(Clock::now());
  ASSERT_TRUE(lease.Held());
  lease.Revoke();
  EXPECT_FALSE(lease.Held());
  EXPECT_TRUE(lease.flush_needed());
  lease.Renew(Clock::now());
  EXPECT_TRUE(lease.Held());
  EXPECT_FALSE(lease.flush_needed());
}

}  // namespace
}  // namespace keycache
