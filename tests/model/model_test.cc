// The model-based multi-instance test: three keycached instances sharing a Redis and a database
// (one of them in a network namespace of its own), client threads issuing a seeded random mix of
// changes and verifications, and a fault scheduler injecting one fault at a time with healthy
// gaps between. Every answer is judged by the oracle (model_oracle.h). It runs once on SQLite
// and once on a PostgreSQL server the test starts (shorter, to keep CI small; there the faults
// also include PostgreSQL stopped and restarted, and the database lock is a table lock).
//
// Environment:
//   KEYCACHE_MODEL_SEED      seed of the operation mix and the fault schedule (default: random;
//                            printed). Thread interleavings are not reproducible, only the mix.
//   KEYCACHE_MODEL_SECONDS   how long the clients and faults run on SQLite (default 60)
//   KEYCACHE_MODEL_PG_SECONDS  the same on PostgreSQL (default 25)
//   KEYCACHE_MODEL_FAULTS    comma-separated fault kinds to use (default: all; see faults.h;
//                            "none": traffic without faults)
//   KEYCACHE_MODEL_EXCLUDE   comma-separated key kinds / operations to leave out (model_driver.h)
//   KEYCACHE_COHERENCE_LEASE passed to the instances; the bound is lease + 250 ms (default 1 s)
//   KEYCACHE_MODEL_TRACE     a file to write every request to, one line each (for triage)
//   KEYCACHE_MODEL_RSS_GROWTH_PCT  fail when an instance's RSS grows more than this after
//                            KEYCACHE_MODEL_WARMUP_SECONDS (default 60); bench/soak.sh sets it
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
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
using Clock = std::chrono::steady_clock;

std::set<std::string> CommaSet(const std::string& text) {
  std::set<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.insert(item);
  }
  return out;
}

// "250ms", "1s", "2" (seconds) -> milliseconds; -1 when unreadable.
Ms ParseDurationMs(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  const std::string unit = end ? std::string(end) : "";
  if (end == text.c_str() || v < 0) return -1;
  if (unit.empty() || unit == "s") return static_cast<Ms>(v * 1000);
  if (unit == "ms") return static_cast<Ms>(v);
  if (unit == "m") return static_cast<Ms>(v * 60'000);
  return -1;
}

long ReadRssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// Watches the instances every 20 ms (any exit is a failure) and samples their RSS every second.
class Monitor {
 public:
  Monitor(ModelCluster& cluster, ModelDriver& driver) : cluster_(cluster), driver_(driver) {
    rss_.resize(static_cast<std::size_t>(cluster.size()));
    thread_ = std::thread([this] { Run(); });
  }
  ~Monitor() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool crashed() const { return crashed_.load(); }
  // (seconds since start, kB) per instance.
  const std::vector<std::vector<std::pair<double, long>>>& rss() const { return rss_; }

 private:
  void Run() {
    const auto start = Clock::now();
    auto next_sample = start;
    while (!stop_.load()) {
      for (int i = 0; i < cluster_.size() && !crashed_; ++i) {
        int status = -1;
        if (!cluster_.Alive(i, &status)) {
          crashed_ = true;
          driver_.ReportCrash(i, status, Tail(cluster_.instance(i).log(), 60));
        }
      }
      if (Clock::now() >= next_sample && !crashed_) {
        const double t = std::chrono::duration<double>(Clock::now() - start).count();
        for (int i = 0; i < cluster_.size(); ++i) {
          const long kb = ReadRssKb(cluster_.pid(i));
          if (kb > 0) rss_[static_cast<std::size_t>(i)].emplace_back(t, kb);
        }
        next_sample += 1s;
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  ModelCluster& cluster_;
  ModelDriver& driver_;
  std::atomic<bool> stop_{false}, crashed_{false};
  std::vector<std::vector<std::pair<double, long>>> rss_;
  std::thread thread_;
};

long Median(std::vector<long> v) {
  if (v.empty()) return -1;
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// One line per instance; a failure message when growth after warm-up exceeds `limit_pct`.
std::string RssReport(const Monitor& m, double warmup_s, double limit_pct, std::string* failure) {
  std::ostringstream out;
  for (std::size_t i = 0; i < m.rss().size(); ++i) {
    const auto& samples = m.rss()[i];
    if (samples.empty()) continue;
    std::vector<long> base, last;
    for (const auto& [t, kb] : samples) {
      if (t >= warmup_s && t < warmup_s + 30) base.push_back(kb);
    }
    for (std::size_t j = samples.size() > 30 ? samples.size() - 30 : 0; j < samples.size(); ++j) {
      last.push_back(samples[j].second);
    }
    const long b = Median(base), e = Median(last);
    out << "  instance " << i << ": RSS first " << samples.front().second << " kB";
    if (b > 0) {
      const double growth = 100.0 * static_cast<double>(e - b) / static_cast<double>(b);
      out << ", after warm-up " << b << " kB, at the end " << e << " kB (" << growth << " %)";
      if (limit_pct >= 0 && growth > limit_pct && failure != nullptr) {
        *failure += "instance " + std::to_string(i) + " RSS grew " + std::to_string(growth) +
                    " % after warm-up (limit " + std::to_string(limit_pct) + " %)\n";
      }
    } else {
      out << ", at the end " << e << " kB (run shorter than the warm-up)";
    }
    out << "\n";
  }
  return out.str();
}

class Model : public ::testing::TestWithParam<StoreKind> {};

TEST_P(Model, InstancesStayCoherentUnderFaults) {
  const auto test_start = Clock::now();
  ASSERT_TRUE(NetworkIsolationError().empty())
      << "the model test needs network namespaces: " << NetworkIsolationError();

  const StoreKind store = GetParam();
  const std::uint64_t seed = ModelSeed(std::string(StoreName(store)));
  const int seconds =
      std::stoi(store == StoreKind::kPostgres ? EnvOr("KEYCACHE_MODEL_PG_SECONDS", "25")
                                              : EnvOr("KEYCACHE_MODEL_SECONDS", "60"));
  std::cout << "seconds of traffic and faults: " << seconds << std::endl;
  const std::string lease_text = EnvOr("KEYCACHE_COHERENCE_LEASE");
  const Ms lease = lease_text.empty() ? 1000 : ParseDurationMs(lease_text);
  ASSERT_GE(lease, 0) << "KEYCACHE_COHERENCE_LEASE=" << lease_text << " is not a duration";

  std::vector<FaultKind> kinds;
  const std::set<std::string> wanted = CommaSet(EnvOr("KEYCACHE_MODEL_FAULTS"));
  std::vector<FaultKind> candidates(std::begin(kAllFaults), std::end(kAllFaults));
  if (store == StoreKind::kPostgres) candidates.push_back(FaultKind::kDbRestart);
  for (FaultKind k : candidates) {
    if (wanted.empty() || wanted.count(std::string(FaultName(k)))) kinds.push_back(k);
  }

  EnvVars extra;
  if (!lease_text.empty()) extra["KEYCACHE_COHERENCE_LEASE"] = lease_text;
  ModelCluster cluster(3, extra, ModelDeployment::kStandalone, store);
  {
    const ::testing::AssertionResult started = cluster.Start();
    ASSERT_TRUE(started) << "[KEYCACHE_MODEL_SEED=" << seed << "] " << started.message();
  }
  std::string why;
  ASSERT_TRUE(PollUntil([&] { return cluster.Healthy(&why); }, 30s)) << why;

  FaultTimeline timeline;
  DriverOptions options;
  options.seed = seed;
  options.bound = lease + 250;
  options.exclude = CommaSet(EnvOr("KEYCACHE_MODEL_EXCLUDE"));
  options.trace_file = EnvOr("KEYCACHE_MODEL_TRACE");
  ModelDriver driver(cluster, timeline, options);
  driver.Populate(24);
  Monitor monitor(cluster, driver);
  driver.StartClients();

  // One fault at a time, each kind once per round in a seeded order, healthy gaps between.
  FaultInjector injector(cluster, seed);
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
  std::map<std::string, int> injected;
  const auto deadline = Clock::now() + std::chrono::seconds(seconds);
  auto pause = [&](std::chrono::milliseconds d) {
    const auto until = Clock::now() + d;
    while (Clock::now() < until && !monitor.crashed()) std::this_thread::sleep_for(20ms);
  };
  std::vector<FaultKind> round;
  pause(2s);  // a healthy start
  while (Clock::now() < deadline && !monitor.crashed() && !kinds.empty()) {
    if (round.empty()) {
      round = kinds;
      std::shuffle(round.begin(), round.end(), rng);
    }
    const FaultKind kind = round.back();
    round.pop_back();
    ++injected[std::string(FaultName(kind))];
    const ::testing::AssertionResult ran = injector.Run(kind, timeline);
    if (!ran) {
      driver.AddViolation(ran.message());
      injector.HealAll();
    }
    driver.ResolveAmbiguous();
    pause(std::chrono::milliseconds(std::uniform_int_distribution<int>(1000, 1500)(rng)));
  }
  if (kinds.empty())
    pause(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  injector.HealAll();
  if (!monitor.crashed()) {
    // Quiet down: healthy, past the last fault's stragglers, every ambiguous change settled.
    if (!PollUntil([&] { return cluster.Healthy(&why); }, 30s)) {
      driver.AddViolation("the cluster is not healthy after the last fault was healed: " + why);
    }
    driver.ResolveAll(15s);
  }
  driver.StopClients();
  if (!monitor.crashed()) {
    pause(std::chrono::milliseconds(options.bound));
    driver.FinalSweep(300);
  }
  monitor.Stop();

  // Graceful stops: exit 0, no sanitizer report; then usage from a restarted instance.
  const std::vector<int> codes = cluster.StopAll();
  if (!monitor.crashed()) CheckCleanStops(driver, cluster.instances(), codes);
  if (!monitor.crashed()) {
    KeycachedProcess& first = cluster.instance(0);
    const ::testing::AssertionResult restarted = first.Start();
    if (restarted) {
      ApiClient api(first.address(), first.port(), kSharedToken);
      driver.CheckUsage(api, 800);
      first.Stop();
    } else {
      driver.AddViolation("instance 0 did not restart for the usage check: " +
                          std::string(restarted.message()));
    }
  }

  const double limit = std::stod(EnvOr("KEYCACHE_MODEL_RSS_GROWTH_PCT", "-1"));
  const double warmup = std::stod(EnvOr("KEYCACHE_MODEL_WARMUP_SECONDS", "60"));
  std::string rss_failure;
  const std::string rss = RssReport(monitor, warmup, limit, &rss_failure);

  std::ostringstream report;
  report << "==== model test report on " << StoreName(store) << " (KEYCACHE_MODEL_SEED=" << seed
         << ", " << seconds << " s of faults and traffic, " << driver.operations()
         << " operations, "
         << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - test_start).count()
         << " s in all)\nfaults injected:";
  for (const auto& [k, n] : injected) report << " " << k << "=" << n;
  Ms longest_recovery = 0;
  for (const auto& w : timeline.windows()) {
    if (w.settled != kNever && w.healed != kNever) {
      longest_recovery = std::max(longest_recovery, w.settled - w.healed);
    }
  }
  report << " (longest heal-to-settled " << longest_recovery << " ms)\nfault windows (s):";
  const Ms origin = timeline.windows().empty() ? 0 : driver.start();
  for (const auto& w : timeline.windows()) {
    auto rel = [origin](Ms t) {
      return t == kNever ? std::string("-")
                         : std::to_string((t - origin) / 100 / 10.0).substr(0, 6);
    };
    report << " " << w.kind << "[" << rel(w.start) << ".." << rel(w.healed) << ".."
           << rel(w.settled) << "]";
  }
  report << "\n" << driver.Report() << "\nRSS:\n" << rss;
  std::cout << report.str() << std::endl;

  for (const auto& v : driver.violations()) ADD_FAILURE() << v;
  EXPECT_EQ(driver.violation_count(), 0u)
      << "[KEYCACHE_MODEL_SEED=" << seed << "] violations (the first " << driver.violations().size()
      << " are reported above)";
  EXPECT_TRUE(rss_failure.empty()) << "[KEYCACHE_MODEL_SEED=" << seed << "] " << rss_failure;
}

INSTANTIATE_TEST_SUITE_P(Stores, Model, ::testing::Values(StoreKind::kSqlite, StoreKind::kPostgres),
                         [](const auto& info) { return std::string(StoreName(info.param)); });

}  // namespace
}  // namespace keycache::testing::model
