// NotifyCoherence over an in-memory channel that delivers in order, like PostgreSQL NOTIFY: changes
// reach the other instances' L1 and are in force once the channel took them; the lease is held
// only once an instance heard its own heartbeat back; a lost channel revokes the lease and flushes
// L1, changes made meanwhile answer "pending" and are replayed after the next heartbeat taken.
#include "l2/notify_coherence.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "util/clock.h"

namespace keycache {
namespace {

std::shared_ptr<const KeyFacts> Facts(KeyId id) {
  auto f = std::make_shared<KeyFacts>();
  f->id = id;
  f->owner_id = "team";
  return f;
}

// Every published payload goes to every member (the sender included), in publication order,
// when Deliver() runs; while down, nothing is taken.
class FakeChannel {
 public:
  NotifyCoherence::Publish PublishFn() {
    return [this](std::string payload, std::function<void(bool)> sent) {
      if (!up) {
        sent(false);
        return;
      }
      queue_.push_back(std::move(payload));
      sent(true);
      if (synchronous) Deliver();
    };
  }
  void Deliver() {
    while (!queue_.empty()) {
      const std::string p = std::move(queue_.front());
      queue_.pop_front();
      for (NotifyCoherence* m : members) m->OnMessage(p);
    }
  }
  bool up = true;
  bool synchronous = true;
  std::vector<NotifyCoherence*> members;

 private:
  std::deque<std::string> queue_;
};

struct Instance {
  Instance(std::string id, FakeChannel& channel, const Clock& clock, Logger& log)
      : l1(L1Options{}, clock),
        coherence(NotifyCoherenceOptions{.instance_id = std::move(id)}, channel.PublishFn(), l1,
                  registry, log) {
    channel.members.push_back(&coherence);
  }
  void Fill(KeyId id) {
    auto ticket = l1.BeginFactsFill(id);
    ASSERT_TRUE(l1.CompleteFactsFill(id, Facts(id), ticket));
  }
  Registry registry;
  L1Cache l1;
  NotifyCoherence coherence;
};

std::optional<Propagation> AnnounceKey(NotifyCoherence& c, KeyId id) {
  std::optional<Propagation> result;
  c.Announce(CacheChange::Key(id, "team"), [&](Propagation p) { result = std::move(p); });
  return result;
}

class NotifyCoherenceTest : public ::testing::Test {
 protected:
  NotifyCoherenceTest() : a_("a", channel_, clock_, log_), b_("b", channel_, clock_, log_) {}

  ManualClock clock_;
  Logger log_{LogLevel::kOff};
  FakeChannel channel_;
  Instance a_, b_;
};

TEST_F(NotifyCoherenceTest, TheLeaseIsHeldOnlyOnceTheInstanceHeardItsOwnHeartbeat) {
  channel_.synchronous = false;
  EXPECT_FALSE(a_.coherence.lease().Held());
  a_.coherence.OnListening();  // sends a heartbeat, which the channel took
  EXPECT_FALSE(a_.coherence.lease().Held()) << "taken is not heard";
  channel_.Deliver();
  EXPECT_TRUE(a_.coherence.lease().Held());
  EXPECT_FALSE(b_.coherence.lease().Held()) << "another instance's heartbeat renews nothing";
  EXPECT_EQ(b_.coherence.Status().peers, 1u);
}

TEST_F(NotifyCoherenceTest, AChangeReachesTheOtherInstancesL1AndIsInForceOnceTheChannelTookIt) {
  a_.coherence.OnListening();
  b_.coherence.OnListening();
  b_.Fill(1);
  b_.Fill(2);
  const auto done = AnnounceKey(a_.coherence, 1);
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(done->in_force);
  EXPECT_FALSE(b_.l1.GetFacts(1).has_value());
  EXPECT_TRUE(b_.l1.GetFacts(2).has_value());
  const TierStatus s = b_.coherence.Status();
  EXPECT_EQ(s.invalidations_received, 1u);
  EXPECT_EQ(s.propagation_samples, 1u);
  EXPECT_TRUE(s.lease_held);
}

TEST_F(NotifyCoherenceTest, ALostChannelRevokesAndFlushesAndChangesMeanwhileAreReplayed) {
  a_.coherence.OnListening();
  b_.coherence.OnListening();
  a_.Fill(7);
  b_.Fill(9);

  channel_.up = false;
  a_.coherence.OnLost();
  EXPECT_FALSE(a_.coherence.lease().Held());
  EXPECT_FALSE(a_.l1.GetFacts(7).has_value()) << "L1 is flushed on loss";

  const auto pending = AnnounceKey(a_.coherence, 9);
  ASSERT_TRUE(pending.has_value());
  EXPECT_FALSE(pending->in_force) << "the channel did not take it: 503 propagation_pending";
  EXPECT_EQ(a_.coherence.pending(), 1u);
  EXPECT_TRUE(b_.l1.GetFacts(9).has_value()) << "b has not heard of it yet";

  // Filled while the lease was not held: flushed again when the lease comes back.
  a_.Fill(8);
  channel_.up = true;
  a_.coherence.OnListening();
  EXPECT_TRUE(a_.coherence.lease().Held());
  EXPECT_EQ(a_.coherence.pending(), 0u);
  EXPECT_FALSE(b_.l1.GetFacts(9).has_value()) << "replayed after the heartbeat";
  EXPECT_FALSE(a_.l1.GetFacts(8).has_value());
}

TEST_F(NotifyCoherenceTest, AnUnreadablePushRevokesTheLease) {
  a_.coherence.OnListening();
  ASSERT_TRUE(a_.coherence.lease().Held());
  a_.Fill(3);
  a_.coherence.OnMessage("{not json");
  EXPECT_FALSE(a_.coherence.lease().Held());
  EXPECT_FALSE(a_.l1.GetFacts(3).has_value());
  EXPECT_EQ(a_.coherence.Status().channel_anomalies, 1u);
}

}  // namespace
}  // namespace keycache
