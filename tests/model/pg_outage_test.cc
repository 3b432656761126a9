// PostgreSQL stopped and restarted under the model's load (issue 8 §4): three keycached instances
// on a PostgreSQL server the test starts, the model driver's clients running throughout, and a
// probe that watches three kinds of keys on every instance. Two deployments, one scenario
// (RunOutage):
//  - With Redis (CachedKeysServeUncachedFailClosedAndEverythingRecovers): a standalone Redis (one
//    instance in a network namespace of its own, reaching PostgreSQL through its unix socket).
//    Keys cached before the outage (in every L1 and in Redis) must verify VALID all along.
//  - Without Redis (WithoutRedisEveryVerificationFailsClosedAndEverythingRecovers): the instances
//    keep their L1s coherent over PostgreSQL LISTEN/NOTIFY only (ModelDeployment::kNoRedis). The
//    LISTEN connection goes down with the server, so each instance revokes its lease and flushes
//    L1 (docs/adr/0005): cached keys fail closed like the others — the clear 503 on every
//    instance, and never VALID once the server is gone and a lease (+ margin) has passed — and
//    verify VALID again after the restart.
// In both:
//   - a key revoked and cached as revoked is never VALID;
//   - keys no instance has cached fail closed while the database is down — 503 with a JSON body
//     naming the problem, never a 500 — and verify VALID again once it is back, on every
//     instance, without restarting any.
// Changes sent while the database is down must fail with the same clear 503 (an acknowledged
// change would have to survive) and not be applied (the refused creation is not in the owner's
// list afterwards); repeated after the restart they succeed and reach every instance. Usage:
// UsageFlusher merges a failed batch back and retries it (usage_flusher.h), so nothing counted
// during the outage may be lost: each cached key's stored request_count must equal the VALID
// answers the probe got for it (exactly, unless a request went unanswered), and the driver's own
// usage check runs as in model_test.cc. The driver's 5xx (and the probe's 503s) are excused only
// from the stop until every instance is ready again (without Redis: its channel listening and its
// lease held) + the settle margin. Prints the measured windows. KEYCACHE_MODEL_SEED as in
// model_test.cc.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "model/faults.h"
#include "model/model_cluster.h"
#include "model/model_driver.h"
#include "model/model_run.h"

namespace keycache::testing::model {
namespace {

using namespace std::chrono_literals;

constexpr auto kOutage = 4s;
constexpr int kUncachedPerInstance = 40;
constexpr Ms kSettleMargin = 1000;

// A 503 that names the problem: {"error": "unavailable" | "timeout", "message": "... database
// ..."}.
bool ClearUnavailable(const Reply& r) {
  const std::string error = r.Str("error");
  return r.status == 503 && (error == "unavailable" || error == "timeout") &&
         r.Str("message").find("database") != std::string::npos;
}

// When and how often one kind of key failed closed on one instance.
struct Refusals {
  Ms first = kNever, last = kNever;
  int count = 0;
  void Add(Ms at) {
    if (first == kNever) first = at;
    last = at;
    ++count;
  }
};

// Verifies the cached keys, the revoked key and each instance's next uncached key in turn, on
// every instance, until stopped; collects what it saw. With `cached_fail_closed` (no Redis), a
// cached key may also answer the clear 503, and must not answer VALID inside the window set by
// set_untrusted (the database down and the lease lapsed: only an L1 could have answered).
class OutageProbe {
 public:
  OutageProbe(ModelCluster& cluster, std::vector<CreatedKey> cached, CreatedKey revoked,
              std::vector<std::vector<CreatedKey>> uncached, bool cached_fail_closed)
      : cluster_(cluster),
        cached_(std::move(cached)),
        revoked_(std::move(revoked)),
        uncached_(std::move(uncached)),
        cached_fail_closed_(cached_fail_closed),
        next_uncached_(uncached_.size(), 0),
        uncached_refused_(uncached_.size()),
        cached_refused_(uncached_.size()),
        last_uncached_valid_(uncached_.size(), kNever),
        last_cached_valid_(uncached_.size(), kNever),
        cached_valid_(cached_.size(), 0),
        cached_unanswered_(cached_.size(), 0) {}
  ~OutageProbe() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // Valid after Stop().
  const std::vector<std::string>& problems() const { return problems_; }
  const Refusals& uncached_refused(int i) const {
    return uncached_refused_[static_cast<std::size_t>(i)];
  }
  const Refusals& cached_refused(int i) const {
    return cached_refused_[static_cast<std::size_t>(i)];
  }
  Ms last_uncached_valid(int i) const { return last_uncached_valid_[static_cast<std::size_t>(i)]; }
  Ms last_cached_valid(int i) const { return last_cached_valid_[static_cast<std::size_t>(i)]; }
  std::size_t uncached_verified(int i) const { return next_uncached_[static_cast<std::size_t>(i)]; }
  std::int64_t cached_valid(std::size_t k) const { return cached_valid_[k]; }
  std::int64_t cached_unanswered(std::size_t k) const { return cached_unanswered_[k]; }
  std::int64_t cached_during_outage() const { return cached_during_outage_; }
  void set_outage(Ms from, Ms to) {
    outage_from_ = from;
    outage_to_ = to;
  }
  void set_untrusted(Ms from, Ms to) {
    untrusted_from_ = from;
    untrusted_to_ = to;
  }

 private:
  void Problem(std::string what) {
    if (problems_.size() < 20) problems_.push_back(std::move(what));
  }

  void Run() {
    std::vector<std::unique_ptr<ApiClient>> apis;
    for (int i = 0; i < cluster_.size(); ++i) apis.push_back(cluster_.Client(i));
    std::size_t turn = 0;
    while (!stop_) {
      for (std::size_t i = 0; i < apis.size() && !stop_; ++i) {
        const std::string where = " on instance " + std::to_string(i);
        // A cached key: VALID, whatever the database does (with Redis); without Redis, VALID
        // or the clear 503, never VALID from an untrusted L1.
        const std::size_t k = turn % cached_.size();
        const Ms sent = NowMs();
        const Reply c = Verify(*apis[i], cached_[k].key);
        const Ms at = NowMs();
        if (c.status == 0) {
          ++cached_unanswered_[k];
        } else if (c.status == 200 && c.Str("code") == "VALID") {
          ++cached_valid_[k];
          last_cached_valid_[i] = at;
          if (at >= outage_from_.load() && at <= outage_to_.load()) ++cached_during_outage_;
          if (cached_fail_closed_ && sent >= untrusted_from_.load() && at <= untrusted_to_.load()) {
            Problem("cached key " + cached_[k].id + where +
                    " VALID while the database was down and the lease had lapsed: " + c.Describe());
          }
        } else if (cached_fail_closed_ && ClearUnavailable(c)) {
          cached_refused_[i].Add(at);
        } else {
          Problem("cached key " + cached_[k].id + where + ": " + c.Describe());
        }
        // The revoked key: never VALID, never a 500.
        const Reply r = Verify(*apis[i], revoked_.key);
        if ((r.status == 200 && r.Str("code") == "VALID") || r.status == 500 ||
            (r.status >= 500 && !ClearUnavailable(r))) {
          Problem("revoked key " + revoked_.id + where + ": " + r.Describe());
        }
        // From the stop on, the instance's next uncached key: fails closed, or VALID (then the
        // next one).
        std::size_t& next = next_uncached_[i];
        if (NowMs() >= outage_from_.load() && next < uncached_[i].size()) {
          const CreatedKey& u = uncached_[i][next];
          const Reply v = Verify(*apis[i], u.key);
          const Ms now = NowMs();
          if (v.status == 200 && v.Str("code") == "VALID") {
            ++next;
            last_uncached_valid_[i] = now;
          } else if (ClearUnavailable(v)) {
            uncached_refused_[i].Add(now);
          } else {
            Problem("uncached key " + u.id + where + ": " + v.Describe());
          }
        }
      }
      ++turn;
      std::this_thread::sleep_for(15ms);
    }
  }

  ModelCluster& cluster_;
  const std::vector<CreatedKey> cached_;
  const CreatedKey revoked_;
  const std::vector<std::vector<CreatedKey>> uncached_;
  const bool cached_fail_closed_;
  std::vector<std::size_t> next_uncached_;
  std::vector<Refusals> uncached_refused_, cached_refused_;  // per instance
  std::vector<Ms> last_uncached_valid_, last_cached_valid_;  // per instance
  std::vector<std::int64_t> cached_valid_, cached_unanswered_;
  std::int64_t cached_during_outage_ = 0;
  std::atomic<Ms> outage_from_{kNever}, outage_to_{kNever};
  std::atomic<Ms> untrusted_from_{kNever}, untrusted_to_{kNever};
  std::vector<std::string> problems_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Verifies `key` on every instance until each answers `code` from its cache (bounded); adds the
// VALID answers it got to `*valid` (they count as usage).
::testing::AssertionResult CachedEverywhere(ModelCluster& cluster, const std::string& key,
                                            const std::string& code, std::int64_t* valid) {
  for (int i = 0; i < cluster.size(); ++i) {
    auto api = cluster.Client(i);
    Reply last;
    if (!PollUntil(
            [&] {
              last = Verify(*api, key);
              if (last.status == 200 && last.Str("code") == "VALID" && valid) ++*valid;
              return last.Str("code") == code && last.Header("X-Cache-Status") == "HIT";
            },
            10s)) {
      return ::testing::AssertionFailure() << "instance " << i << " never answered " << code
                                           << " from its cache: " << last.Describe();
    }
  }
  return ::testing::AssertionSuccess();
}

double Seconds(Ms d) { return static_cast<double>(d) / 1000.0; }

// One instance's refusals, for the report: "12 x 503, first 540 ms after the stop, last -400 ms
// after the restart".
std::string RefusalReport(const Refusals& r, Ms stopped_at, Ms restarted_at) {
  std::ostringstream out;
  out << r.count << " x 503";
  if (r.first != kNever) {
    out << ", first " << (r.first - stopped_at) << " ms after the stop, last "
        << (r.last - restarted_at) << " ms after the restart";
  }
  return out.str();
}

// The scenario, with Redis beside PostgreSQL (kStandalone) or without (kNoRedis): the same load,
// outage and checks; only what cached keys must answer during the outage differs.
void RunOutage(ModelDeployment deployment, const std::string& label) {
  ASSERT_TRUE(NetworkIsolationError().empty()) << NetworkIsolationError();
  const std::uint64_t seed = ModelSeed(label);
  const bool redis = deployment != ModelDeployment::kNoRedis;

  ModelCluster cluster(3, {}, deployment, StoreKind::kPostgres);
  {
    const ::testing::AssertionResult started = cluster.Start();
    ASSERT_TRUE(started) << started.message();
  }
  std::string why;
  ASSERT_TRUE(PollUntil([&] { return cluster.Healthy(&why); }, 30s)) << why;

  // The probe's keys. Verifications counted for usage: the warm-up ones too.
  auto admin = cluster.Client(0);
  const std::string owner = UniqueOwner("pg-outage");
  std::vector<CreatedKey> cached;
  for (int k = 0; k < 3; ++k) cached.push_back(CreateKey(*admin, owner));
  const CreatedKey revoked = CreateKey(*admin, owner);
  std::vector<CreatedKey> to_change;  // revoked during the outage (refused), then after it
  for (int i = 0; i < cluster.size(); ++i) to_change.push_back(CreateKey(*admin, owner));
  std::vector<std::vector<CreatedKey>> uncached(static_cast<std::size_t>(cluster.size()));
  for (auto& keys : uncached) {
    for (int k = 0; k < kUncachedPerInstance; ++k) keys.push_back(CreateKey(*admin, owner));
  }
  ASSERT_FALSE(::testing::Test::HasFailure());
  std::vector<std::int64_t> warm_valid(cached.size(), 0);  // usage the warm-up counted
  for (std::size_t k = 0; k < cached.size(); ++k) {
    ASSERT_TRUE(CachedEverywhere(cluster, cached[k].key, "VALID", &warm_valid[k]));
  }
  for (const auto& c : to_change) ASSERT_TRUE(CachedEverywhere(cluster, c.key, "VALID", nullptr));
  ASSERT_EQ(admin->Admin(http::verb::post, "/v1/keys/" + revoked.id + "/revoke", "{}").status,
            200u);
  ASSERT_TRUE(CachedEverywhere(cluster, revoked.key, "REVOKED", nullptr));

  FaultTimeline timeline;
  DriverOptions options;
  options.seed = seed;
  options.bound = 1250;  // the default lease + margin
  // A type-wide invalidation would drop the probe's cached keys: the contract under test is for
  // keys that stay cached.
  options.exclude = {"invalidate"};
  ModelDriver driver(cluster, timeline, options);
  driver.Populate(24);
  driver.StartClients();
  OutageProbe probe(cluster, cached, revoked, uncached, !redis);
  probe.Start();
  std::this_thread::sleep_for(3s);  // healthy traffic first

  // The outage.
  const Ms stopped_at = NowMs();
  const int window = timeline.Begin("pg_outage", -1, stopped_at);
  probe.set_outage(stopped_at, kNever);
  cluster.store().server().Stop();
  // The server is gone (Stop reaps it): from one lease on, no instance may trust its L1.
  const Ms down_at = NowMs();
  probe.set_untrusted(down_at + options.bound, kNever);
  std::this_thread::sleep_for(1s);
  // Instance i revokes to_change[i].
  auto revoke_each = [&] {
    std::vector<Reply> replies;
    for (int i = 0; i < cluster.size(); ++i) {
      const std::string& id = to_change[static_cast<std::size_t>(i)].id;
      replies.push_back(
          cluster.Client(i)->Admin(http::verb::post, "/v1/keys/" + id + "/revoke", "{}"));
    }
    return replies;
  };
  const std::vector<Reply> refused_changes = revoke_each();
  const Reply refused_create = admin->Admin(
      http::verb::post, "/v1/keys",
      ToJson(boost::json::object{
          {"owner_id", owner}, {"name", "during the outage"}, {"scopes", boost::json::array()}}));
  std::this_thread::sleep_for(kOutage - 1s);
  const Ms restart_begun = NowMs();
  probe.set_untrusted(down_at + options.bound, restart_begun);
  const ::testing::AssertionResult restarted = cluster.store().server().Restart();
  const Ms restarted_at = NowMs();
  probe.set_outage(stopped_at, restarted_at);
  timeline.Healed(window, restarted_at);
  ASSERT_TRUE(restarted) << restarted.message();
  if (!PollUntil([&] { return cluster.Healthy(&why); }, 30s, 20ms)) {
    driver.AddViolation("not every instance is healthy 30 s after PostgreSQL restarted: " + why);
  }
  const Ms healthy_at = NowMs();
  std::this_thread::sleep_for(std::chrono::milliseconds(kSettleMargin));
  timeline.Settled(window, NowMs());

  // After the outage: the refused changes succeed now and reach every instance.
  const std::vector<Reply> later_changes = revoke_each();
  std::this_thread::sleep_for(std::chrono::milliseconds(options.bound));
  std::vector<std::string> not_refused;
  for (int i = 0; i < cluster.size(); ++i) {
    auto api = cluster.Client(i);
    for (const auto& c : to_change) {
      const Reply r = Verify(*api, c.key);
      if (r.Str("code") != "REVOKED") {
        not_refused.push_back("instance " + std::to_string(i) + " " + c.id + ": " + r.Describe());
      }
    }
  }
  // The creation refused during the outage was not applied.
  const Reply listed = admin->Admin(http::verb::get, "/v1/owners/" + owner + "/keys");
  int created_during_outage = -1;
  if (const auto* keys = Member(listed.json, {"keys"}); keys && keys->is_array()) {
    created_during_outage = 0;
    for (const auto& k : keys->as_array()) {
      const auto* name = Member(k, {"name"});
      if (name && *name == "during the outage") ++created_during_outage;
    }
  }
  std::this_thread::sleep_for(4s);  // traffic after the outage: no errors any more
  probe.Stop();
  WindDown(driver, cluster.instances(), options.bound, 200);

  // Usage: every instance stopped gracefully (flushing what it counted), one started again.
  CheckCleanStops(driver, cluster.instances(), cluster.StopAll());
  std::vector<std::int64_t> stored(cached.size(), -1);
  {
    KeycachedProcess& first = cluster.instance(0);
    const ::testing::AssertionResult again = first.Start();
    if (again) {
      ApiClient api(first.address(), first.port(), kSharedToken);
      driver.CheckUsage(api, 800);
      for (std::size_t k = 0; k < cached.size(); ++k) stored[k] = RequestCount(api, cached[k].id);
      first.Stop();
    } else {
      driver.AddViolation("instance 0 did not restart for the usage check: " +
                          std::string(again.message()));
    }
  }

  // The report.
  std::ostringstream report;
  report << "==== " << label << " (KEYCACHE_MODEL_SEED=" << seed << ", " << driver.operations()
         << " driver operations)\n  down " << Seconds(restart_begun - stopped_at)
         << " s (the server gone " << (down_at - stopped_at) << " ms after the stop signal)"
         << "; restart took " << Seconds(restarted_at - restart_begun)
         << " s; every instance ready " << Seconds(healthy_at - restarted_at)
         << " s after the restart\n  cached keys answered VALID during the outage: "
         << probe.cached_during_outage() << " times\n";
  Ms first_error = kNever, last_error = 0;
  for (int i = 0; i < cluster.size(); ++i) {
    for (const Refusals* r : {&probe.uncached_refused(i), &probe.cached_refused(i)}) {
      if (r->first == kNever) continue;
      first_error = std::min(first_error, r->first);
      last_error = std::max(last_error, r->last);
    }
    report << "  instance " << i << ": uncached keys "
           << RefusalReport(probe.uncached_refused(i), stopped_at, restarted_at) << ", "
           << probe.uncached_verified(i) << " VALID";
    if (!redis) {
      report << "; cached keys "
             << RefusalReport(probe.cached_refused(i), stopped_at, restarted_at);
    }
    report << "\n";
  }
  if (first_error != kNever) {
    report << "  measured: first error " << (first_error - stopped_at)
           << " ms after the stop, last error " << (last_error - restarted_at)
           << " ms after PostgreSQL accepted connections again\n";
  }
  report << "  usage of the watched keys (stored / VALID answers seen + unanswered):";
  for (std::size_t k = 0; k < cached.size(); ++k) {
    report << " " << stored[k] << "/" << probe.cached_valid(k) + warm_valid[k] << "+"
           << probe.cached_unanswered(k);
  }
  report << "\n  during the outage: revoke -> ";
  for (const auto& r : refused_changes) report << r.status << " " << r.Str("error") << "; ";
  report << "create -> " << refused_create.status << " " << refused_create.Str("error") << "\n"
         << driver.Report();
  std::cout << report.str() << std::endl;

  // Fail closed, clearly, and never a revoked key.
  for (const auto& p : probe.problems()) ADD_FAILURE() << p;
  for (int i = 0; i < cluster.size(); ++i) {
    const Refusals& u = probe.uncached_refused(i);
    EXPECT_GT(u.count, 0) << "instance " << i << " never failed closed on an uncached key";
    EXPECT_LT(u.last, healthy_at + kSettleMargin)
        << "instance " << i << " still failed after every instance was ready again";
    EXPECT_GT(probe.last_uncached_valid(i), restarted_at)
        << "instance " << i << " verified no uncached key after the restart";
    EXPECT_GT(probe.last_cached_valid(i), restarted_at)
        << "instance " << i << " verified no cached key after the restart";
    if (!redis) {
      // Its channel went down with the server: the lease is revoked, L1 not trusted.
      const Refusals& c = probe.cached_refused(i);
      EXPECT_GT(c.count, 0) << "instance " << i
                            << " kept answering cached keys without its NOTIFY channel";
      EXPECT_LT(c.last, healthy_at + kSettleMargin)
          << "instance " << i << " still refused a cached key after every instance was ready";
    }
  }
  if (redis) {
    EXPECT_GT(probe.cached_during_outage(), 0) << "no cached key was verified during the outage";
  }
  for (std::size_t i = 0; i < refused_changes.size(); ++i) {
    EXPECT_TRUE(ClearUnavailable(refused_changes[i]))
        << "a revocation while the database is down: " << refused_changes[i].Describe();
    EXPECT_EQ(later_changes[i].status, 200u) << later_changes[i].Describe();
  }
  EXPECT_TRUE(ClearUnavailable(refused_create)) << refused_create.Describe();
  EXPECT_EQ(created_during_outage, 0) << "the refused creation: " << listed.Describe();
  for (const auto& n : not_refused) ADD_FAILURE() << "revoked after the outage, not refused: " << n;
  // Nothing lost, nothing counted twice.
  for (std::size_t k = 0; k < cached.size(); ++k) {
    const std::int64_t seen = probe.cached_valid(k) + warm_valid[k];
    EXPECT_GE(stored[k], seen) << "usage of " << cached[k].id << " lost";
    EXPECT_LE(stored[k], seen + probe.cached_unanswered(k)) << "usage of " << cached[k].id;
  }
  for (const auto& v : driver.violations()) ADD_FAILURE() << v;
  EXPECT_EQ(driver.violation_count(), 0u) << "[KEYCACHE_MODEL_SEED=" << seed << "]";
}

TEST(PgOutage, CachedKeysServeUncachedFailClosedAndEverythingRecovers) {
  RunOutage(ModelDeployment::kStandalone, "PostgreSQL outage");
}

TEST(PgOutage, WithoutRedisEveryVerificationFailsClosedAndEverythingRecovers) {
  RunOutage(ModelDeployment::kNoRedis, "PostgreSQL outage without Redis");
}

}  // namespace
}  // namespace keycache::testing::model
