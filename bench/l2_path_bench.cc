// l2_path_bench: the L2 path of a verification in process, the way redis-benchmark measures GET:
// C concurrent loops (spread over 2 I/O threads, like keycached's workers) each verifying keys
// through Verifier with L1 off, so every verification is one Redis MGET of the key's generation
// and sealed entry, the seal check, the HMAC and the decision. No HTTP. Every answer must be
// VALID (the run fails otherwise). Prints verifications per second for the measured window.
//
//   l2_path_bench --port P --password PW [--connections 32] [--seconds 10] [--keys 10000]
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "app/app.h"
#include "bench/bench_seeder.h"
#include "bench/verify_stack.h"
#include "store/sqlite_store.h"

namespace asio = boost::asio;
using namespace keycache;
using Steady = std::chrono::steady_clock;

namespace {

struct Shared {
  std::vector<std::string> keys;
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> wrong{0};
  std::atomic<bool> stop{false};
};

asio::awaitable<void> Loop(Verifier& verifier, Shared& shared, std::size_t offset) {
  const std::vector<std::string> no_scopes;
  for (std::size_t i = offset; !shared.stop.load(std::memory_order_relaxed); ++i) {
    std::string key = shared.keys[i % shared.keys.size()];
    auto outcome = co_await verifier.Verify(std::move(key), no_scopes, "127.0.0.1");
    if (!outcome || outcome->code != VerifyCode::kValid) shared.wrong.fetch_add(1);
    shared.done.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned port = 0, connections = 32, seconds = 10, keys = 10'000;
  std::string password;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--port"))
      port = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--password"))
      password = argv[i + 1];
    else if (!std::strcmp(argv[i], "--connections"))
      connections = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds"))
      seconds = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--keys"))
      keys = std::stoul(argv[i + 1]);
  }
  if (!port || !connections || !seconds || !keys) {
    std::fprintf(stderr,
                 "usage: l2_path_bench --port P --password PW [--connections 32] "
                 "[--seconds 10] [--keys 10000]\n");
    return 2;
  }
  Logger log(LogLevel::kWarn);
  const auto dir =
      std::filesystem::temp_directory_path() / ("keycache-l2-path-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  bench::SeedOptions seed;
  seed.db_path = (dir / "k.db").string();
  seed.pepper = std::string(bench::kBenchPepper);
  seed.count = keys;
  seed.keep = keys;
  auto seeded = bench::BulkSeed(seed, log);
  if (!seeded) {
    std::fprintf(stderr, "l2_path_bench: seeding failed\n");
    return 1;
  }
  auto opened = SqliteStore::Open(seed.db_path, log);
  if (!opened) {
    std::fprintf(stderr, "l2_path_bench: cannot open the seeded store\n");
    return 1;
  }
  // keycached's own App, with the Redis tier and L1 off: every verification is one Redis MGET.
  Config config;
  config.pepper = std::string(bench::kBenchPepper);
  config.admin_token = "bench-admin-token-0123456789";
  config.port = 0;
  config.http_threads = 2;
  config.access_log = false;
  config.warm_on_start = false;
  config.redis.enabled = true;
  config.redis.host = "127.0.0.1";
  config.redis.port = static_cast<std::uint16_t>(port);
  config.redis.password = password;
  config.redis.pool_size = 3;
  config.redis.key_prefix = "bench:l2path:";
  config.redis.l1_enabled = false;
  std::string error;
  auto app =
      App::Create(AppOptions{.config = std::move(config), .store = opened->get()}, log, error);
  if (!app || app->Start(error) != 0) {
    std::fprintf(stderr, "l2_path_bench: %s\n", error.c_str());
    return 1;
  }
  std::thread server([&app] { app->Run(); });
  for (int i = 0; i < 500 && !(app->redis() && app->redis()->shared().Usable()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  Shared shared;
  shared.keys = std::move(seeded->keys);
  for (unsigned c = 0; c < connections; ++c) {
    asio::co_spawn(app->server().executor(static_cast<int>(c % 2)),
                   Loop(app->verifier(), shared, c * 7919), asio::detached);
  }
  // Warm-up: every key read once from the store and written to Redis.
  const auto warm_until = Steady::now() + std::chrono::seconds(3);
  while (Steady::now() < warm_until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const std::uint64_t start_count = shared.done.load();
  const auto start = Steady::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const std::uint64_t end_count = shared.done.load();
  const double elapsed = std::chrono::duration<double>(Steady::now() - start).count();
  shared.stop = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  app->Stop();
  server.join();
  app.reset();
  std::filesystem::remove_all(dir);

  std::printf(
      "l2_path_bench: %.0f verifications/s over %.1f s with %u concurrent loops "
      "(L1 off; %llu wrong answers)\n",
      static_cast<double>(end_count - start_count) / elapsed, elapsed, connections,
      static_cast<unsigned long long>(shared.wrong.load()));
  return shared.wrong.load() == 0 ? 0 : 1;
}
