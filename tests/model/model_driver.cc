#include "model/model_driver.h"

#include <sstream>

#include "core/api_key.h"
#include "core/key_id.h"
#include "integration/integration_util.h"
#include "integration/redis_tier_util.h"
#include "model/model_driver_internal.h"
#include "util/time_format.h"

namespace keycache::testing::model {

using namespace driver_detail;
using std::chrono::milliseconds;

ModelDriver::ModelDriver(ModelInstances& cluster, const FaultTimeline& timeline,
                         DriverOptions options)
    : cluster_(cluster),
      timeline_(timeline),
      options_(std::move(options)),
      start_(NowMs()),
      owners_([&] {
        std::vector<std::string> o;
        for (int i = 0; i < 12; ++i) {
          o.push_back("model-" + std::to_string(options_.seed % 100000) + "-" + std::to_string(i));
        }
        return o;
      }()),
      instance_log_(static_cast<std::size_t>(cluster.size())),
      in_flight_(static_cast<std::size_t>(cluster.size())),
      unanswered_(static_cast<std::size_t>(cluster.size())) {
  if (!options_.trace_file.empty()) trace_.open(options_.trace_file);
  // Unknown keys of three kinds: minted under the deployment's pepper (they reach the caches and
  // the store), forged without it (refused at the tag) and forged in the legacy format (refused
  // from the legacy ids).
  for (int i = 0; i < 16; ++i) {
    auto f = std::make_unique<Forged>();
    f->key = i % 2 == 0   ? UnknownIssuedKey(kSharedPepper, kPrefix)
             : i % 4 == 1 ? UnknownWellFormedKey(kPrefix)
                          : UnknownLegacyKey(kPrefix);
    f->id = KeyIdToString(ParseKey(kPrefix, f->key).value());
    forged_.push_back(std::move(f));
  }
}

ModelDriver::~ModelDriver() { StopClients(); }

std::string ModelDriver::Rel(Ms t) const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "+%.3fs", static_cast<double>(t - start_) / 1000.0);
  return buf;
}

void ModelDriver::Violation(const std::string& what, const ModelKey* key) {
  if (crashed_) return;  // after a crash, the clients' failures to reach it are noise
  ++violation_count_;
  // A few of each fault's (and of the healthy times'), so that one noisy fault does not hide
  // what another one did.
  std::string fault = timeline_.ActiveAt(NowMs());
  if (fault.empty()) fault = "none";
  ++violations_by_fault_[fault];
  if (violations_.size() >= kKeptViolations || violations_by_fault_[fault] > kKeptPerFault) return;
  std::string text = "[KEYCACHE_MODEL_SEED=" + std::to_string(options_.seed) + "] " + what + "\n";
  if (key != nullptr) text += key->LogText();
  violations_.push_back(std::move(text));
}

void ModelDriver::AddViolation(std::string what) {
  std::lock_guard lock(mu_);
  Violation(what, nullptr);
}

std::vector<std::string> ModelDriver::violations() const {
  std::lock_guard lock(mu_);
  return violations_;
}

std::size_t ModelDriver::violation_count() const {
  std::lock_guard lock(mu_);
  return violation_count_;
}

void ModelDriver::NoteInstance(int instance, std::string line) {
  if (trace_.is_open()) trace_ << line << "\n";
  auto& log = instance_log_[static_cast<std::size_t>(instance)];
  log.push_back(std::move(line));
  if (log.size() > kInstanceLogLines) log.pop_front();
}

bool ModelDriver::Reachable(int instance) {
  // A dying process closes its sockets a moment before it can be reaped.
  return !PollUntil([&] { return !cluster_.Alive(instance); }, milliseconds(500), milliseconds(20));
}

bool ModelDriver::Excused(int instance, Ms s, Ms r) const {
  return timeline_.Covers(instance, s, r);
}

void ModelDriver::StartClients() {
  stop_ = false;
  for (int t = 0; t < options_.threads; ++t) threads_.emplace_back([this, t] { ClientLoop(t); });
  for (int p = 0; p < kProbersPerInstance * cluster_.size(); ++p) {
    threads_.emplace_back([this, p] { ProbeLoop(options_.threads + p); });
  }
}

void ModelDriver::StopClients() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void ModelDriver::Populate(int n) {
  Client c(cluster_, kPopulateThread, options_.seed * 7919 + 17);
  for (int i = 0; i < n; ++i) {
    c.instance = c.Uniform(0, cluster_.size() - 1);
    DoCreate(c);
  }
}

void ModelDriver::ProbeLoop(int thread) {
  Client c(cluster_, thread, options_.seed * 1'000'033 + static_cast<std::uint64_t>(thread) + 1);
  c.instance = thread % cluster_.size();
  while (!stop_.load()) {
    DoVerify(c, c.Uniform(0, 1) == 0, true);
    operations_.fetch_add(1);
  }
}

void ModelDriver::ClientLoop(int thread) {
  Client c(cluster_, thread, options_.seed * 1'000'003 + static_cast<std::uint64_t>(thread) + 1);
  auto allowed = [this](const char* op) { return options_.exclude.count(op) == 0; };
  // Each thread talks to one instance only, so that every instance keeps being probed (and
  // changed) while requests to another one hang on a fault; what one instance writes, the
  // threads of the others read.
  c.instance = thread % cluster_.size();
  while (!stop_.load()) {
    const int roll = c.Uniform(0, 99);
    std::size_t active = 0;
    {
      std::lock_guard lock(mu_);
      active = Prune(NowMs());
    }
    const bool want_keys = active < kTargetActiveKeys;
    if (roll < 35) {
      DoVerify(c, false);
    } else if (roll < 62) {
      DoVerify(c, true);
    } else if (roll < 70 || (want_keys && roll < 74)) {
      if (allowed("create") && active < 2 * kTargetActiveKeys) {
        DoCreate(c);
      } else {
        DoVerify(c, true);
      }
    } else {
      static constexpr const char* kChanges[] = {
          "patch_scopes", "patch_scopes", "patch_enabled", "patch_enabled", "patch_enabled",
          "revoke",       "revoke",       "rotate",        "rotate",        "rotate",
          "delete",       "delete",       "invalidate",    "invalidate"};
      const char* op = kChanges[c.Uniform(0, std::size(kChanges) - 1)];
      if (!allowed(op)) {
        DoVerify(c, false);
      } else if (std::string_view(op) == "invalidate") {
        DoInvalidate(c);
      } else {
        DoChange(c, op);
      }
    }
    operations_.fetch_add(1);
  }
}

std::size_t ModelDriver::Prune(Ms now) {
  // At most every 100 ms: the scan is over every active key.
  if (now - last_prune_ < 100) return live_;
  last_prune_ = now;
  live_ = 0;
  std::erase_if(active_, [&](ModelKey* k) {
    const KeyState& st = k->history.latest();
    const bool dead =
        !st.exists || st.revoked_at <= now - kRetireAfter || st.expires_at <= now - kRetireAfter;
    if (dead && now - k->last_change > kRetireAfter && !k->busy && !k->history.unresolved()) {
      k->retired = true;
      return true;
    }
    if (st.exists && st.revoked_at == kNever && st.expires_at > now) ++live_;
    return false;
  });
  return live_;
}

ModelDriver::ModelKey* ModelDriver::PickForVerify(std::mt19937_64& rng, int instance, bool probe) {
  if (keys_.empty()) return nullptr;
  const Ms now = NowMs();
  std::vector<ModelKey*> recent, probes;
  for (ModelKey* k : active_) {
    if (now - k->last_change < kRecentChange) recent.push_back(k);
    // Changed through another instance while this one held its previous state: until the
    // change reaches it, every probe here is a cache hit on the old state.
    if (probe && now - k->last_change < kProbeWindow && k->last_change_instance != instance &&
        k->cached_when_changed[static_cast<std::size_t>(instance)]) {
      probes.push_back(k);
    }
  }
  auto pick = [&rng](const std::vector<ModelKey*>& from) {
    return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(rng)];
  };
  if (!probes.empty()) return pick(probes);
  const int roll = std::uniform_int_distribution<int>(0, 99)(rng);
  if (roll < 50 && !recent.empty()) return pick(recent);
  if (roll < 92 && !active_.empty()) return pick(active_);
  ModelKey* any = keys_[std::uniform_int_distribution<std::size_t>(0, keys_.size() - 1)(rng)].get();
  return any->key.empty() ? nullptr : any;
}

ModelDriver::ModelKey* ModelDriver::TakeForChange(std::mt19937_64& rng, bool needs_unrevoked) {
  std::vector<ModelKey*> candidates;
  for (ModelKey* k : active_) {
    if (k->busy || k->history.unresolved() || !k->history.latest().exists) continue;
    if (needs_unrevoked && k->history.latest().revoked_at != kNever) continue;
    candidates.push_back(k);
  }
  if (candidates.empty()) return nullptr;
  ModelKey* k =
      candidates[std::uniform_int_distribution<std::size_t>(0, candidates.size() - 1)(rng)];
  k->busy = true;
  return k;
}

void ModelDriver::ResolveAmbiguous() {
  std::vector<ModelKey*> pending;
  const Ms now = NowMs();
  {
    std::lock_guard lock(mu_);
    for (const auto& k : keys_) {
      if (k->history.unresolved() && now - k->history.versions().back().sent_at > kResolveAfter) {
        pending.push_back(k.get());
      }
    }
  }
  if (pending.empty()) return;
  ApiClient api(cluster_.address(0), cluster_.port(0), kSharedToken);
  for (ModelKey* k : pending) {
    const Reply reply = api.Admin(http::verb::get, "/v1/keys/" + k->id);
    const Ms at = NowMs();
    KeyState read_back;
    if (reply.status == 200) {
      read_back = StateFromRecord(reply.Object());
    } else if (reply.status != 404) {
      continue;  // try again at the next settle
    }
    std::lock_guard lock(mu_);
    k->history.Resolve(read_back, at);
    const bool took_effect = k->history.versions().back().status == Version::Status::kAcked;
    ++(took_effect ? ambiguous_resolved_effect_ : ambiguous_resolved_void_);
    k->last_change = at;
    k->changes.push_back(Rel(at) + " read back: " + std::to_string(reply.status) + " revoked_at=" +
                         (read_back.revoked_at == kNever ? std::string("never")
                                                         : FormatRfc3339(read_back.revoked_at)) +
                         " enabled=" + (read_back.enabled ? "true" : "false") + " -> " +
                         (took_effect ? "the change took effect" : "the change did not happen"));
  }
}

void ModelDriver::ResolveAll(milliseconds bound) {
  auto unresolved = [this] {
    std::lock_guard lock(mu_);
    return std::any_of(keys_.begin(), keys_.end(),
                       [](const auto& k) { return k->history.unresolved(); });
  };
  PollUntil(
      [&] {
        ResolveAmbiguous();
        return !unresolved();
      },
      bound, milliseconds(250));
}

void ModelDriver::FinalSweep(std::size_t max_keys) {
  Client c(cluster_, kSweepThread, options_.seed * 31 + 5);
  std::vector<std::size_t> order;
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (!keys_[i]->key.empty()) order.push_back(i);
    }
  }
  std::shuffle(order.begin(), order.end(), c.rng);
  if (order.size() > max_keys) order.resize(max_keys);
  for (std::size_t i : order) {
    ModelKey* k;
    {
      std::lock_guard lock(mu_);
      k = keys_[i].get();
    }
    for (int inst = 0; inst < cluster_.size(); ++inst) {
      c.instance = inst;
      const Ms s = NowMs();
      const Reply reply = Verify(c.api(), k->key);
      const Ms r = NowMs();
      Outcome out;
      out.status = reply.status;
      out.code = reply.Str("code");
      out.key_id = reply.Str("key_id");
      if (const auto* sc = reply.Object().if_contains("scopes")) out.scopes = Strings(sc);
      std::lock_guard lock(mu_);
      ++ops_by_kind_["final_sweep"];
      k->AddVerification(Rel(s) + ".." + Rel(r) + " [instance " + std::to_string(inst) +
                         "] final sweep verify -> " + Brief(reply));
      if (reply.status != 200) {
        Violation("final sweep: verify on instance " + std::to_string(inst) + " answered " +
                      Brief(reply) + " with the cluster healthy and quiet",
                  k);
        if (reply.status == 0) ++k->valid_unknown;
        continue;
      }
      JudgeReal(*k, inst, false, {}, s, r, out);
    }
  }
}

void ModelDriver::CheckUsage(ApiClient& api, std::size_t max_keys) {
  std::lock_guard lock(mu_);
  // Keys with VALID answers first: they are the ones whose counts can be wrong.
  std::vector<ModelKey*> order;
  for (const auto& k : keys_) {
    if (!k->history.latest().exists || k->history.unresolved() || k->key.empty()) continue;
    order.push_back(k.get());
  }
  std::stable_partition(order.begin(), order.end(),
                        [](const ModelKey* k) { return k->valid_seen + k->valid_unknown > 0; });
  if (order.size() > max_keys) order.resize(max_keys);
  for (ModelKey* k : order) {
    const Reply reply = api.Admin(http::verb::get, "/v1/keys/" + k->id + "/usage");
    ++usage_checked_;
    const auto* count = reply.Object().if_contains("request_count");
    if (reply.status != 200 || count == nullptr || !count->is_number()) {
      Violation("usage of " + k->id + " answered " + Brief(reply), k);
      continue;
    }
    const std::int64_t n = count->to_number<std::int64_t>();
    if (n < k->valid_seen || n > k->valid_seen + k->valid_unknown) {
      Violation("usage of " + k->id + ": request_count " + std::to_string(n) +
                    ", but the driver saw " + std::to_string(k->valid_seen) + " VALID answers (+ " +
                    std::to_string(k->valid_unknown) + " unanswered requests that may have been)",
                k);
    }
  }
}

void ModelDriver::ReportCrash(int instance, int status, const std::string& log_tail) {
  std::lock_guard lock(mu_);
  std::string text = "instance " + std::to_string(instance) + " exited with status " +
                     StatusName(status) + " while the driver ran.\n";
  std::vector<std::string> ids;
  auto add_id = [&ids](const std::string& id) {
    if (!id.empty() && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  };
  text +=
      "  requests it never answered (the first is probably the one it died on; a sanitizer "
      "report can take seconds to print, and the requests on the same HTTP thread wait):\n";
  std::vector<Request> never;
  for (const auto& [thread, request] : in_flight_[static_cast<std::size_t>(instance)]) {
    never.push_back({"(still in flight, thread " + std::to_string(thread) + ") " + request.what,
                     request.key_id, request.sent});
  }
  const auto& unanswered = unanswered_[static_cast<std::size_t>(instance)];
  never.insert(never.end(), unanswered.begin(), unanswered.end());
  std::stable_sort(never.begin(), never.end(),
                   [](const Request& a, const Request& b) { return a.sent < b.sent; });
  constexpr std::size_t kShown = 12;
  for (std::size_t i = 0; i < never.size() && i < kShown; ++i) {
    text += "    " + never[i].what + "\n";
    if (i < 4) add_id(never[i].key_id);
  }
  if (never.size() > kShown)
    text += "    ... and " + std::to_string(never.size() - kShown) + " more\n";
  text += "  its last requests:\n";
  for (const auto& line : instance_log_[static_cast<std::size_t>(instance)]) {
    if (line.find("Connection refused") != std::string::npos) continue;  // after it died
    text += "    " + line + "\n";
  }
  // The keys of the requests it died on, with what every instance answered for them before.
  for (const std::string& id : ids) {
    for (const auto& k : keys_) {
      if (k->id == id) text += k->LogText();
    }
    for (const auto& f : forged_) {
      if (f->id != id) continue;
      text += "  forged key " + f->key +
              " (a well-formed key whose id no key has), its first "
              "and last verifications:\n";
      for (const auto& line : f->first) text += "    " + line + "\n";
      text += "    ...\n";
      for (const auto& line : f->last) text += "    " + line + "\n";
    }
  }
  text += "  the end of its log:\n" + log_tail;
  Violation(text, nullptr);
  crashed_ = true;
  stop_ = true;  // the clients stop; the test ends the run
}

std::string ModelDriver::WarningsAround(int i, Ms from, Ms to) const {
  constexpr std::size_t kKept = 6;
  constexpr std::size_t kLineChars = 240;
  std::vector<std::string> kept;
  std::istringstream log(cluster_.Log(i));
  for (std::string line; std::getline(log, line);) {
    // "2026-12-01T03:44:03.123Z WARN event k=v ..."
    const auto space = line.find(' ');
    if (space == std::string::npos) continue;
    const auto at = ParseRfc3339(std::string_view(line).substr(0, space));
    if (!at || *at < from || *at > to) continue;
    const std::string_view rest = std::string_view(line).substr(space + 1);
    if (!rest.starts_with("WARN ") && !rest.starts_with("ERROR ")) continue;
    kept.push_back(line.size() > kLineChars ? line.substr(0, kLineChars) + "..." : line);
    if (kept.size() > kKept) kept.erase(kept.begin());
  }
  if (kept.empty()) return "none logged";
  std::string out;
  for (const auto& line : kept) out += (out.empty() ? "" : " | ") + line;
  return out;
}

std::string ModelDriver::Report() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  // The violations' first lines lead, so that a log cut short after a few lines still says what
  // failed; the whole texts follow as the test's failures.
  if (violation_count_ > 0) {
    out << "VIOLATIONS: " << violation_count_ << " (first lines of the " << violations_.size()
        << " kept):\n";
    for (const auto& v : violations_) {
      std::string head = v.substr(0, v.find('\n'));
      if (head.size() > 2000) head = head.substr(0, 2000) + "...";
      out << "  - " << head << "\n";
    }
  }
  out << "operations by kind:";
  for (const auto& [k, n] : ops_by_kind_) out << " " << k << "=" << n;
  out << "\nanswers by code:";
  for (const auto& [k, n] : answers_by_code_) out << " [" << k << "]=" << n;
  out << "\nambiguous changes:";
  for (const auto& [k, n] : ambiguous_by_op_) out << " " << k << "=" << n;
  out << " | read back: took effect " << ambiguous_resolved_effect_ << ", did not "
      << ambiguous_resolved_void_ << "; creates without a known key " << unknown_creates_;
  std::size_t unresolved = 0;
  for (const auto& k : keys_) unresolved += k->history.unresolved() ? 1 : 0;
  out << "; still unresolved " << unresolved;
  out << "\nprobes given up after " << kProbeTimeout.count() << " ms: " << probe_timeouts_;
  out << "\nverifications without an answer (5xx or none) during faults, by fault:";
  for (const auto& [k, n] : unanswered_by_fault_)
    out << " " << (k.empty() ? "settling" : k) << "=" << n;
  out << "\nmax observed staleness (ms, answers older than an acknowledged change) by fault:";
  if (max_staleness_.empty()) out << " none seen";
  for (const auto& [k, ms] : max_staleness_) out << " " << k << "=" << ms;
  out << "\n  by instance:";
  for (const auto& [i, ms] : max_staleness_by_instance_) out << " " << i << "=" << ms;
  out << "\nkeys " << keys_.size() << ", usage checked for " << usage_checked_
      << "; rotate's rotated_from.revoked_at later than the stored one by up to "
      << max_rotate_revoked_at_skew_ << " ms";
  out << "\nviolations: " << violation_count_ << ", by the fault in force when found:";
  for (const auto& [k, n] : violations_by_fault_) out << " " << k << "=" << n;
  return out.str();
}

}  // namespace keycache::testing::model
