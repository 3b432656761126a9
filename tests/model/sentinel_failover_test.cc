// The model-based test on Redis via Sentinel (docs/adr/0003, "Sentinel"): three keycached
// instances find the primary through three Sentinels (a hardened primary and two replicas: CONFIG
// under a secret name the Sentinels know) and share one database — SQLite, and in a second run
// a PostgreSQL server the test starts (issue 8 §4: each topology on PostgreSQL); client threads
// run the
// model's mix (valid, revoked, unknown, forged keys; revocations and other changes all along)
// while the primary is SIGKILLed and the Sentinels promote a replica. Every answer is judged by
// the oracle: no revoked key accepted beyond the coherence lease, 5xx only inside the failover
// window (from the kill until the instances report healthy again, plus the settle margin).
// Prints the measured windows. KEYCACHE_MODEL_SEED as in model_test.cc.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "model/faults.h"
#include "model/model_cluster.h"
#include "model/model_driver.h"
#include "model/model_run.h"

namespace keycache::testing::model {
namespace {

using namespace std::chrono_literals;

// Per instance: the first 2xx after the kill that did not bypass Redis (the instance holds its
// lease again, through the new primary), once a BYPASS showed the failover was noticed.
class RecoveryProbe {
 public:
  RecoveryProbe(ModelCluster& cluster, std::string key) : cluster_(cluster), key_(std::move(key)) {
    first_.assign(static_cast<std::size_t>(cluster.size()), kNever);
  }
  ~RecoveryProbe() { Stop(); }
  void Start(Ms killed_at) {
    thread_ = std::thread([this, killed_at] { Run(killed_at); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  Ms first(int i) const { return first_[static_cast<std::size_t>(i)]; }

 private:
  void Run(Ms killed_at) {
    std::vector<bool> bypassed(first_.size(), false);
    std::vector<std::unique_ptr<ApiClient>> apis;
    for (int i = 0; i < cluster_.size(); ++i) apis.push_back(cluster_.Client(i));
    while (!stop_) {
      for (std::size_t i = 0; i < apis.size(); ++i) {
        if (first_[i] != kNever) continue;
        const Reply r = Verify(*apis[i], key_);
        const Ms now = NowMs();
        const std::string status = r.Header("X-Cache-Status");
        if (r.status != 200 || status == "BYPASS") {
          bypassed[i] = true;
        } else if (bypassed[i] && now > killed_at) {
          first_[i] = now;
        }
      }
      std::this_thread::sleep_for(10ms);
    }
  }

  ModelCluster& cluster_;
  const std::string key_;
  std::vector<Ms> first_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class SentinelModel : public ::testing::TestWithParam<StoreKind> {};

TEST_P(SentinelModel, NoRevokedKeyAcceptedAcrossAFailover) {
  ASSERT_TRUE(NetworkIsolationError().empty()) << NetworkIsolationError();
  const std::uint64_t seed = ModelSeed("Sentinel on " + std::string(StoreName(GetParam())));

  ModelCluster cluster(3, {}, ModelDeployment::kSentinel, GetParam());
  ASSERT_TRUE(cluster.Start());
  std::string why;
  ASSERT_TRUE(PollUntil([&] { return cluster.Healthy(&why); }, 30s)) << why;
  auto admin = cluster.Client(0);
  const CreatedKey probe_key = CreateKey(*admin, UniqueOwner("sentinel-probe"));

  FaultTimeline timeline;
  DriverOptions options;
  options.seed = seed;
  options.bound = 1000 + 250;  // the default lease + margin
  ModelDriver driver(cluster, timeline, options);
  driver.Populate(24);
  driver.StartClients();
  std::this_thread::sleep_for(4s);  // healthy traffic first

  FaultInjector injector(cluster, seed);
  RecoveryProbe probe(cluster, probe_key.key);
  const Ms killed_at = NowMs();
  probe.Start(killed_at);
  const ::testing::AssertionResult ran = injector.Run(FaultKind::kSentinelFailover, timeline);
  if (!ran) driver.AddViolation(ran.message());
  std::this_thread::sleep_for(5s);  // traffic on the new primary
  probe.Stop();
  if (!PollUntil([&] { return cluster.Healthy(&why); }, 30s)) {
    driver.AddViolation("the cluster is not healthy after the failover: " + why);
  }
  driver.ResolveAll(15s);
  driver.StopClients();
  std::this_thread::sleep_for(std::chrono::milliseconds(options.bound));
  driver.FinalSweep(300);

  // Every instance followed the failover and names the promoted node; it counted at least one
  // change of primary and never more than the Sentinels made (one kill can take two elections
  // under load; more changes than that would mean an instance went back to a stale answer).
  const int changes = cluster.sentinel().PrimaryChanges();
  EXPECT_GE(changes, 1) << cluster.sentinel().Logs();
  const int primary = cluster.sentinel().PrimaryIndex();
  ASSERT_GE(primary, 0);
  const std::string expected =
      "127.0.0.1:" + std::to_string(cluster.sentinel().data_node(primary).port());
  for (int i = 0; i < cluster.size(); ++i) {
    auto api = cluster.Client(i);
    const auto health = RedisHealth(*api);
    const auto* address = Member(health, {"sentinel", "primary"});
    const auto* failovers = Member(health, {"sentinel", "failovers"});
    EXPECT_TRUE(address && *address == expected.c_str()) << i << ": " << ToJson(health);
    const double counted = failovers ? failovers->to_number<double>() : 0;
    EXPECT_GE(counted, 1) << i << ": " << ToJson(health);
    EXPECT_LE(counted, changes) << i << ": " << ToJson(health);
    EXPECT_EQ(MetricValue(*api, "keycache_redis_failovers_total"), counted) << i;
  }

  const auto windows = timeline.windows();
  ASSERT_EQ(windows.size(), 1u);
  const auto& w = windows.front();
  std::ostringstream report;
  report << "==== Sentinel failover on " << StoreName(GetParam())
         << " (KEYCACHE_MODEL_SEED=" << seed << ", " << driver.operations()
         << " operations)\n  kill -> promotion seen by the test: " << (w.healed - w.start)
         << " ms (" << changes << " change(s) of primary)\n  kill -> every instance healthy (+"
         << 1000 << " ms settle margin): " << (w.settled - w.start) << " ms\n";
  for (int i = 0; i < cluster.size(); ++i) {
    report << "  instance " << i << ": kill -> first 2xx through the new primary: ";
    if (probe.first(i) == kNever) {
      report << "not seen\n";
    } else {
      report << (probe.first(i) - killed_at) << " ms\n";
    }
  }
  CheckCleanStops(driver, cluster.instances(), cluster.StopAll());
  report << driver.Report();
  std::cout << report.str() << std::endl;

  for (const auto& v : driver.violations()) ADD_FAILURE() << v;
  EXPECT_EQ(driver.violation_count(), 0u) << "[KEYCACHE_MODEL_SEED=" << seed << "]";
}

INSTANTIATE_TEST_SUITE_P(Stores, SentinelModel,
                         ::testing::Values(StoreKind::kSqlite, StoreKind::kPostgres),
                         [](const auto& info) { return std::string(StoreName(info.param)); });

}  // namespace
}  // namespace keycache::testing::model
