#include "model/faults.h"

#include <thread>

namespace keycache::testing::model {
namespace {

using std::chrono::milliseconds;

// After healing: how long the cluster may take to report healthy again, and the margin after
// that during which requests already in flight may still fail.
constexpr milliseconds kRecoveryBound{30'000};
constexpr milliseconds kSettleMargin{1'000};

}  // namespace

std::string_view FaultName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kRedisKill:
      return "redis_kill";
    case FaultKind::kRedisPause:
      return "redis_pause";
    case FaultKind::kRedisReadOnly:
      return "redis_readonly";
    case FaultKind::kRedisOom:
      return "redis_oom";
    case FaultKind::kKillPool:
      return "kill_pool";
    case FaultKind::kKillSubscriber:
      return "kill_subscriber";
    case FaultKind::kSilentCut:
      return "silent_cut";
    case FaultKind::kDbLock:
      return "db_lock";
    case FaultKind::kNoPerm:
      return "redis_noperm";
    case FaultKind::kSentinelFailover:
      return "sentinel_failover";
    case FaultKind::kDbRestart:
      return "db_restart";
  }
  return "?";
}

Ms NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int FaultTimeline::Begin(std::string kind, int instance, Ms at) {
  std::lock_guard lock(mu_);
  windows_.push_back({std::move(kind), instance, at, kNever, kNever});
  return static_cast<int>(windows_.size()) - 1;
}

void FaultTimeline::Healed(int id, Ms at) {
  std::lock_guard lock(mu_);
  windows_[static_cast<std::size_t>(id)].healed = at;
}

void FaultTimeline::Settled(int id, Ms at) {
  std::lock_guard lock(mu_);
  windows_[static_cast<std::size_t>(id)].settled = at;
}

std::string FaultTimeline::ActiveAt(Ms t) const {
  std::lock_guard lock(mu_);
  for (auto it = windows_.rbegin(); it != windows_.rend(); ++it) {
    if (it->start <= t && t <= it->settled) return it->kind;
  }
  return {};
}

bool FaultTimeline::Covers(int instance, Ms from, Ms to) const {
  std::lock_guard lock(mu_);
  for (const Window& w : windows_) {
    if ((w.instance == -1 || w.instance == instance) && w.start <= to && from <= w.settled) {
      return true;
    }
  }
  return false;
}

std::vector<FaultTimeline::Window> FaultTimeline::windows() const {
  std::lock_guard lock(mu_);
  return windows_;
}

milliseconds FaultInjector::Hold(FaultKind kind) {
  auto between = [this](int lo, int hi) {
    return milliseconds(std::uniform_int_distribution<int>(lo, hi)(rng_));
  };
  switch (kind) {
    case FaultKind::kRedisPause:
      return between(1000, 6000);  // sometimes beyond the 5 s command timeout
    case FaultKind::kSilentCut:
      return between(2000, 7000);
    case FaultKind::kDbLock:
      return between(1000, 6500);  // sometimes beyond busy_timeout and KEYCACHE_DB_TIMEOUT
    case FaultKind::kKillPool:
    case FaultKind::kKillSubscriber:
      return milliseconds(1000);
    case FaultKind::kSentinelFailover:
      return milliseconds(0);  // healing is the promotion, waited for by Heal
    default:
      return between(1500, 4000);
  }
}

::testing::AssertionResult FaultInjector::Inject(FaultKind kind) {
  switch (kind) {
    case FaultKind::kRedisKill:
      cluster_.redis().Kill();
      return ::testing::AssertionSuccess();
    case FaultKind::kRedisPause:
      cluster_.redis().Pause();
      paused_ = true;
      return ::testing::AssertionSuccess();
    case FaultKind::kRedisReadOnly:
      read_only_ = true;
      return cluster_.redis_faults().MakeReadOnly();
    case FaultKind::kRedisOom:
      oom_ = true;
      return cluster_.redis_faults().StartOom();
    case FaultKind::kKillPool:
      return cluster_.redis_faults().KillNormalClients();
    case FaultKind::kKillSubscriber:
      return cluster_.redis_faults().KillPubSubClients();
    case FaultKind::kSilentCut:
      return cluster_.netns().Cut(cluster_.netns().outer_address(), cluster_.redis().port());
    case FaultKind::kDbLock:
      if (cluster_.store().postgres()) {
        pg_lock_ = std::make_unique<PgSession>(cluster_.store().Url());
        return pg_lock_->Exec("BEGIN; LOCK TABLE api_keys IN EXCLUSIVE MODE");
      }
      db_lock_ = std::make_unique<SqliteWriteLock>(cluster_.store().sqlite_path());
      return db_lock_->Acquire();
    case FaultKind::kNoPerm:
      no_perm_ = true;
      return cluster_.redis_faults().DenyCommand(kRedisUser, "incr");
    case FaultKind::kSentinelFailover:
      killed_primary_ = cluster_.sentinel().KillPrimary();
      if (killed_primary_ < 0) return ::testing::AssertionFailure() << "no primary to kill";
      return ::testing::AssertionSuccess();
    case FaultKind::kDbRestart:
      if (!cluster_.store().postgres()) {
        return ::testing::AssertionFailure() << "db_restart needs the PostgreSQL store";
      }
      cluster_.store().server().Stop();
      return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "unknown fault";
}

::testing::AssertionResult FaultInjector::Heal(FaultKind kind) {
  switch (kind) {
    case FaultKind::kRedisKill:
      return cluster_.redis().running() ? ::testing::AssertionSuccess()
                                        : cluster_.redis().Restart();
    case FaultKind::kRedisPause:
      cluster_.redis().Resume();
      paused_ = false;
      return ::testing::AssertionSuccess();
    case FaultKind::kRedisReadOnly:
      read_only_ = false;
      return cluster_.redis_faults().MakeWritable();
    case FaultKind::kRedisOom:
      oom_ = false;
      return cluster_.redis_faults().EndOom();
    case FaultKind::kKillPool:
    case FaultKind::kKillSubscriber:
      return ::testing::AssertionSuccess();
    case FaultKind::kSilentCut:
      return cluster_.netns().Heal();
    case FaultKind::kDbLock:
      db_lock_.reset();
      pg_lock_.reset();  // closing the session ends its transaction
      return ::testing::AssertionSuccess();
    case FaultKind::kNoPerm:
      no_perm_ = false;
      return cluster_.redis_faults().AllowCommand(kRedisUser, "incr");
    case FaultKind::kSentinelFailover:
      return cluster_.sentinel().WaitForPromotion(killed_primary_, std::chrono::seconds(30));
    case FaultKind::kDbRestart:
      return cluster_.store().server().running() ? ::testing::AssertionSuccess()
                                                 : cluster_.store().server().Restart();
  }
  return ::testing::AssertionFailure() << "unknown fault";
}

::testing::AssertionResult FaultInjector::Run(FaultKind kind, FaultTimeline& timeline) {
  const int instance = kind == FaultKind::kSilentCut ? cluster_.isolated() : -1;
  const int id = timeline.Begin(std::string(FaultName(kind)), instance, NowMs());
  ::testing::AssertionResult injected = Inject(kind);
  if (injected) {
    const milliseconds hold = Hold(kind);
    if (kind == FaultKind::kKillPool || kind == FaultKind::kKillSubscriber) {
      // A few kills in a row: reconnects racing the next kill.
      for (int i = 0; i < 3 && injected; ++i) {
        std::this_thread::sleep_for(hold / 3);
        injected = Inject(kind);
      }
    } else {
      std::this_thread::sleep_for(hold);
    }
  }
  ::testing::AssertionResult healed = Heal(kind);
  timeline.Healed(id, NowMs());
  if (!injected) return injected << " (injecting " << FaultName(kind) << ")";
  if (!healed) return healed << " (healing " << FaultName(kind) << ")";
  std::string why;
  bool all_alive = true;
  auto recovered = [&] {
    for (int i = 0; i < cluster_.size(); ++i) all_alive = all_alive && cluster_.Alive(i);
    return !all_alive || cluster_.Healthy(&why);
  };
  if (!PollUntil(recovered, kRecoveryBound, std::chrono::milliseconds(100)) || !all_alive) {
    if (!all_alive) {
      timeline.Settled(id, NowMs());
      return ::testing::AssertionSuccess();  // the monitor reports the exit
    }
    timeline.Settled(id, NowMs());
    return ::testing::AssertionFailure()
           << "the cluster did not recover within " << kRecoveryBound.count() << " ms after "
           << FaultName(kind) << " was healed: " << why;
  }
  std::this_thread::sleep_for(kSettleMargin);
  timeline.Settled(id, NowMs());
  return ::testing::AssertionSuccess();
}

void FaultInjector::HealAll() {
  if (cluster_.sentinel_mode()) return;  // a failover heals itself (or never)
  if (paused_) Heal(FaultKind::kRedisPause);
  if (read_only_) Heal(FaultKind::kRedisReadOnly);
  if (oom_) Heal(FaultKind::kRedisOom);
  if (no_perm_) Heal(FaultKind::kNoPerm);
  if (cluster_.netns().cut()) Heal(FaultKind::kSilentCut);
  db_lock_.reset();
  pg_lock_.reset();
  if (cluster_.store().postgres() && !cluster_.store().server().running()) {
    Heal(FaultKind::kDbRestart);
  }
  if (!cluster_.redis().running()) Heal(FaultKind::kRedisKill);
}

}  // namespace keycache::testing::model
