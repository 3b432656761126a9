// Test support for the service layer: a temp dir, a KeyStore wrapper over the real SqliteStore
// that counts calls, injects failures and can hold a read mid-way, an io_context on its own
// thread that runs coroutines for the test, and a harness that wires the whole service layer the
// way app/ does. Everything here is for one test at a time; TestStore and IoThread are
// thread-safe.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "app/app.h"
#include "cache/l1_cache.h"
#include "cache/usage_counter.h"
#include "core/api_key.h"
#include "core/key_hasher.h"
#include "metrics/hit_rate_window.h"
#include "metrics/registry.h"
#include "service/db_executor.h"
#include "service/fake_shared_cache.h"
#include "service/key_service.h"
#include "service/service_metrics.h"
#include "service/verifier.h"
#include "store/sqlite_store.h"
#include "util/clock.h"
#include "util/log.h"

namespace keycache::testing {

// Every wait in these tests is bounded by this; reaching it means the behaviour under test hung.
inline constexpr std::chrono::seconds kBound{30};

// Polls `done` until it holds or kBound passes; returns its last value.
template <class Pred>
bool PollUntil(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + kBound;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Runs a callable when the scope ends, so a failed ASSERT cannot leave a thread blocked.
template <class F>
class ScopeExit {
 public:
  explicit ScopeExit(F f) : f_(std::move(f)) {}
  ~ScopeExit() { f_(); }
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;

 private:
  F f_;
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kc_service_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::unique_ptr<SqliteStore> OpenSqlite(const std::string& path, Logger& log) {
  auto opened = SqliteStore::Open(path, log);
  if (!opened) throw std::runtime_error("SqliteStore::Open: " + opened.error().message());
  return std::move(*opened);
}

// The value of a Result the test needs to go on, or an exception (gtest reports it as a failure).
template <class T>
T Must(Result<T> r, const char* what = "operation") {
  if (!r) throw std::runtime_error(std::string(what) + " failed: " + r.error().message());
  return std::move(*r);
}

inline void Must(Result<void> r, const char* what = "operation") {
  if (!r) throw std::runtime_error(std::string(what) + " failed: " + r.error().message());
}

// A KeyStore delegating to a real store, with counters, failure switches and a hold: after
// HoldNextFindById() (or HoldNextListByOwner()), the next such call reads the store, then blocks
// with the value it read until Release(), like a read that took its snapshot and then stalled.
// One hold at a time.
class TestStore final : public KeyStore {
 public:
  explicit TestStore(KeyStore& inner) : inner_(inner) {}

  std::atomic<int> find_calls{0};
  std::atomic<int> add_usage_calls{0};
  std::atomic<int> legacy_calls{0};
  std::atomic<bool> fail_find{false};
  std::atomic<bool> fail_add_usage{false};
  // Claim to read many keys in one call (as PostgreSQL does), so that the verifier batches; the
  // reads still go one by one through FindById (holds and counters apply). Sizes of the batches.
  std::atomic<bool> reads_many_at_once{false};
  // Runs after each FindById has read (set before the reads start; e.g. to invalidate the key
  // as a change racing the read would).
  std::function<void(KeyId)> after_find;

  void HoldNextFindById() {
    std::lock_guard lock(mu_);
    hold_find_ = true;
  }
  // The same for ListByOwner.
  void HoldNextListByOwner() {
    std::lock_guard lock(mu_);
    hold_list_ = true;
  }
  // The same for ListLegacyIds.
  void HoldNextListLegacyIds() {
    std::lock_guard lock(mu_);
    hold_legacy_ = true;
  }
  // True once a call is held; false if none arrived within kBound.
  bool WaitUntilHeld() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kBound, [&] { return held_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  // Ends every hold for good (teardown must never wait on a held database thread).
  void ReleaseForever() {
    std::lock_guard lock(mu_);
    hold_find_ = hold_list_ = hold_legacy_ = false;
    released_ = true;
    forever_ = true;
    cv_.notify_all();
  }

  Result<void> Ping() override { return inner_.Ping(); }
  Result<std::optional<KeyRecord>> FindById(KeyId id) override {
    find_calls.fetch_add(1);
    if (fail_find.load()) return make_error_code(Errc::kDatabase);
    auto found = inner_.FindById(id);
    if (after_find) after_find(id);
    MaybeHold(hold_find_);
    return found;
  }
  std::vector<Result<std::optional<KeyRecord>>> FindByIds(std::span<const KeyId> ids) override {
    {
      std::lock_guard lock(mu_);
      batch_sizes_.push_back(ids.size());
    }
    return KeyStore::FindByIds(ids);
  }
  bool ReadsManyAtOnce() const override { return reads_many_at_once.load(); }
  std::vector<std::size_t> batch_sizes() {
    std::lock_guard lock(mu_);
    return batch_sizes_;
  }
  Result<void> Insert(const KeyRecord& record, std::size_t max_live_keys) override {
    return inner_.Insert(record, max_live_keys);
  }
  Result<KeyRecord> Update(KeyId id, const KeyPatch& patch, TimeMs now) override {
    return inner_.Update(id, patch, now);
  }
  Result<KeyRecord> Revoke(KeyId id, TimeMs at, std::string_view reason, TimeMs now) override {
    return inner_.Revoke(id, at, reason, now);
  }
  Result<KeyRecord> Rotate(KeyId old_id, const KeyRecord& replacement, TimeMs old_revoked_at,
                           TimeMs now) override {
    return inner_.Rotate(old_id, replacement, old_revoked_at, now);
  }
  Result<KeyRecord> Delete(KeyId id) override { return inner_.Delete(id); }
  Result<std::vector<KeyRecord>> ListByOwner(std::string_view owner_id) override {
    auto keys = inner_.ListByOwner(owner_id);
    MaybeHold(hold_list_);
    return keys;
  }
  Result<std::vector<KeyRecord>> TopByUsage(std::size_t limit, TimeMs now) override {
    return inner_.TopByUsage(limit, now);
  }
  Result<void> AddUsage(std::span<const UsageDelta> deltas) override {
    add_usage_calls.fetch_add(1);
    if (fail_add_usage.load()) return make_error_code(Errc::kDatabase);
    return inner_.AddUsage(deltas);
  }
  Result<std::uint64_t> CountKeys() override { return inner_.CountKeys(); }
  Result<std::vector<KeyId>> ListLegacyIds() override {
    legacy_calls.fetch_add(1);
    auto ids = inner_.ListLegacyIds();
    MaybeHold(hold_legacy_);
    return ids;
  }

 private:
  // Blocks the calling thread if `armed` (one of the hold_* flags) is set, disarming it.
  void MaybeHold(bool& armed) {
    std::unique_lock lock(mu_);
    if (!armed || forever_) return;
    armed = false;
    held_ = true;
    released_ = false;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
    held_ = false;
  }

  KeyStore& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_find_ = false;                // guarded by mu_
  bool hold_list_ = false;                // guarded by mu_
  bool hold_legacy_ = false;              // guarded by mu_
  bool held_ = false;                     // guarded by mu_
  bool released_ = false;                 // guarded by mu_
  bool forever_ = false;                  // guarded by mu_
  std::vector<std::size_t> batch_sizes_;  // guarded by mu_
};

// One io_context run by one thread: the single-threaded executor the service's coroutines need.
class IoThread {
 public:
  IoThread() : guard_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IoThread() { Stop(); }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  boost::asio::io_context& io() { return io_; }
  std::thread::id thread_id() const { return thread_.get_id(); }

  void Stop() {
    guard_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // Starts `a` on this context; the future carries its value or its exception.
  template <class T>
  std::future<T> Spawn(boost::asio::awaitable<T> a) {
    auto promise = std::make_shared<std::promise<T>>();
    std::future<T> f = promise->get_future();
    boost::asio::co_spawn(
        io_,
        [a = std::move(a), promise]() mutable -> boost::asio::awaitable<void> {
          if constexpr (std::is_void_v<T>) {
            co_await std::move(a);
            promise->set_value();
          } else {
            T value = co_await std::move(a);
            promise->set_value(std::move(value));
          }
        },
        [promise](std::exception_ptr e) {
          if (e) promise->set_exception(e);
        });
    return f;
  }

  template <class T>
  T Await(boost::asio::awaitable<T> a) {
    return Get(Spawn(std::move(a)));
  }

  template <class T>
  static T Get(std::future<T> f) {
    if (f.wait_for(kBound) != std::future_status::ready) {
      throw std::runtime_error("a coroutine did not finish within the bound");
    }
    return f.get();
  }

  // Returns once every handler queued on the context before this call has run.
  bool Drain() {
    std::promise<void> done;
    auto f = done.get_future();
    boost::asio::post(io_, [&done] { done.set_value(); });
    return f.wait_for(kBound) == std::future_status::ready;
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

struct HarnessOptions {
  bool cache_enabled = true;
  int db_threads = 2;
  std::chrono::milliseconds db_timeout{30'000};
  std::size_t max_keys_per_owner = 50;
  // Wire the L2 branch with a FakeSharedCache (HarnessWithL2 / ServiceHarness::shared()).
  bool with_shared = false;
  bool l1_enabled = true;  // with_shared only: false sends every lookup to the shared cache
};

inline constexpr std::string_view kPepper = "a-test-pepper-of-at-least-32-bytes-long";
inline constexpr std::string_view kClientIp = "198.51.100.7";

// The service layer as the App wires it (app/app.h), over a SqliteStore in a temp dir wrapped
// in a TestStore, with a ManualClock and, optionally, a FakeSharedCache as the shared tier.
class ServiceHarness {
 public:
  explicit ServiceHarness(HarnessOptions o = {})
      : options(o),
        sqlite(OpenSqlite(dir.File("keys.db"), log)),
        store(*sqlite),
        app(MakeApp(o, clock, store, shared_cache, log)),
        registry(app->registry()),
        metrics(app->metrics()),
        hasher(app->hasher()),
        l1(app->l1()),
        usage(app->usage()),
        db(app->db()),
        verifier(app->verifier()),
        keys(app->keys()) {}

  ~ServiceHarness() { Shutdown(); }

  // Unblocks held reads, waits for every database job, then stops the I/O thread.
  void Shutdown() {
    store.ReleaseForever();
    db.Stop();
    io.Stop();
  }

  FakeSharedCache& shared() { return shared_cache; }

  Result<VerifyOutcome> Verify(const std::string& key, std::vector<std::string> scopes = {},
                               std::string ip = std::string(kClientIp)) {
    return io.Await(verifier.Verify(key, std::move(scopes), std::move(ip)));
  }
  std::future<Result<VerifyOutcome>> SpawnVerify(const std::string& key,
                                                 std::vector<std::string> scopes = {}) {
    return io.Spawn(verifier.Verify(key, std::move(scopes), std::string(kClientIp)));
  }
  // The fast path's answer, or nullopt when it handed the request to the slow path.
  std::optional<VerifyOutcome> VerifyCached(const std::string& key,
                                            std::vector<std::string> scopes = {}) {
    auto r = verifier.VerifyCached(key, scopes, kClientIp);
    if (auto* outcome = std::get_if<VerifyOutcome>(&r)) return std::move(*outcome);
    return std::nullopt;
  }

  CreatedKey Create(const std::string& owner, std::vector<std::string> scopes = {"users:read"},
                    TimeMs expires_at = kNever) {
    NewKey k;
    k.owner_id = owner;
    k.name = "test key";
    k.scopes = std::move(scopes);
    k.expires_at = expires_at;
    return Must(io.Await(keys.Create(std::move(k))), "Create");
  }
  // Writes a fresh key straight to SqliteStore: no database pool, no invalidation, no timeout.
  CreatedKey InsertDirect(const std::string& owner,
                          std::vector<std::string> scopes = {"users:read"}) {
    auto generated = Must(GenerateKey("ak", KeyHasher(kPepper)), "GenerateKey");
    KeyRecord r;
    r.id = generated.id;
    r.owner_id = owner;
    r.name = "direct key";
    r.scopes = std::move(scopes);
    r.hash = generated.hash;
    r.created_at = r.updated_at = clock.NowMs();
    auto inserted = sqlite->Insert(r, 1000);
    if (!inserted) throw std::runtime_error("Insert: " + inserted.error().message());
    return CreatedKey{std::move(generated.key), std::move(r)};
  }
  KeyRecord Revoke(KeyId id) { return Must(io.Await(keys.Revoke(id, "test")), "Revoke").value; }

  // The value of one series in the registry's text output ("name{labels}"), or -1 if absent.
  double Metric(const std::string& series) const {
    const std::string text = registry.Render();
    const std::string needle = "\n" + series + " ";
    std::size_t at = text.find(needle);
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + needle.size()));
  }

 private:
  static std::unique_ptr<App> MakeApp(const HarnessOptions& o, const Clock& clock, KeyStore& store,
                                      FakeSharedCache& shared, Logger& log) {
    Config config;
    config.pepper = std::string(kPepper);
    config.admin_token = "service-test-admin-token";
    config.port = 0;
    config.http_threads = 1;
    config.db_threads = o.db_threads;
    config.db_timeout_ms = o.db_timeout.count();
    config.cache_enabled = o.cache_enabled;
    config.max_keys_per_owner = o.max_keys_per_owner;
    config.cache_max_memory_bytes = std::uint64_t{16} << 20;
    config.redis.l1_enabled = o.l1_enabled;
    config.access_log = false;
    std::string error;
    auto app = App::Create(AppOptions{.config = std::move(config),
                                      .clock = &clock,
                                      .store = &store,
                                      .shared = o.with_shared ? &shared : nullptr,
                                      .shared_sink = o.with_shared ? &shared : nullptr},
                           log, error);
    if (!app) throw std::runtime_error("App::Create: " + error);
    return app;
  }

 public:
  const HarnessOptions options;
  TempDir dir;
  Logger log{LogLevel::kOff};
  ManualClock clock;
  FakeSharedCache shared_cache;
  std::unique_ptr<SqliteStore> sqlite;
  TestStore store;
  std::unique_ptr<App> app;
  Registry& registry;
  ServiceMetrics& metrics;
  const KeyHasher& hasher;
  L1Cache& l1;
  UsageCounter& usage;
  DbExecutor& db;
  Verifier& verifier;
  KeyService& keys;
  IoThread io;  // last: stopped (and its pending frames dropped) before anything they use
};

}  // namespace keycache::testing
