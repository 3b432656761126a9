// FanOutInvalidator: every sink hears a change in order, `done` reports the first failure once
// all of them reported, and the final sinks hear it again after that and before `done`.
#include "core/invalidation_sink.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace keycache {
namespace {

// Records each announcement in a shared log; reports at once, or later when `hold` is set.
class RecordingSink final : public InvalidationSink {
 public:
  RecordingSink(std::string name, std::vector<std::string>& log) : name_(name), log_(log) {}
  void Announce(const CacheChange& change, PropagationDone done) override {
    log_.push_back(name_ + ":" + std::to_string(change.id));
    if (hold) {
      held_ = std::move(done);
    } else if (done) {
      done(result);
    }
  }
  void Release() {
    log_.push_back(name_ + " reported");
    if (held_) held_(result);
  }
  bool hold = false;
  Propagation result = Propagation::InForce();

 private:
  std::string name_;
  std::vector<std::string>& log_;
  PropagationDone held_;
};

TEST(FanOutInvalidator, FinalSinksHearTheChangeAgainAfterEveryOtherSinkReported) {
  std::vector<std::string> log;
  RecordingSink l1("l1", log), redis("redis", log);
  redis.hold = true;  // Redis's fence replies later, on another thread in real life
  FanOutInvalidator fan;
  fan.Add(l1);
  fan.Add(redis);
  fan.AddFinal(l1);
  std::optional<Propagation> outcome;
  fan.Announce(CacheChange::Key(7, "o"), [&](Propagation p) {
    log.push_back("done");
    outcome = p;
  });
  EXPECT_EQ(log, (std::vector<std::string>{"l1:7", "redis:7"}));
  EXPECT_FALSE(outcome.has_value());
  redis.Release();
  EXPECT_EQ(log, (std::vector<std::string>{"l1:7", "redis:7", "redis reported", "l1:7", "done"}));
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->in_force);
}

TEST(FanOutInvalidator, TheFirstFailureIsReportedOnceAllSinksReported) {
  std::vector<std::string> log;
  RecordingSink a("a", log), b("b", log);
  a.result = Propagation::Pending("redis away");
  b.result = Propagation::Pending("second");
  FanOutInvalidator fan;
  fan.Add(a);
  fan.Add(b);
  int calls = 0;
  Propagation got;
  fan.Announce(CacheChange::All(), [&](Propagation p) {
    ++calls;
    got = p;
  });
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(got.in_force);
  EXPECT_EQ(got.reason, "redis away");
}

}  // namespace
}  // namespace keycache
