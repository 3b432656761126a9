// seed_keys: writes N synthetic keys straight into a keycached SQLite database (the schema that
// keycached itself creates) and the plaintexts of the first M into a file, one per line, for wrk.
// Keys verify in a keycached started on that database with KEYCACHE_PEPPER_FILE=the same file.
//
//   seed_keys --db PATH --pepper-file PATH --count N --hot M --out FILE
//             [--prefix ak] [--keys-per-owner 10] [--id-seed 1]
//
// A missing pepper file is created (32 random bytes, hex, mode 0600), as keycached would.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_seeder.h"
#include "config/secret_file.h"
#include "core/key_hasher.h"

namespace keycache::bench {
namespace {

constexpr const char* kUsage =
    "usage: seed_keys --db PATH --pepper-file PATH --count N --hot M --out FILE\n"
    "                 [--prefix ak] [--keys-per-owner 10] [--id-seed 1]\n";

std::optional<std::uint64_t> ParseCount(std::string_view text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<std::string> LoadOrCreatePepper(const std::string& path) {
  auto read = ReadSecretFile(path);
  if (!read && read.error().missing) {
    auto hex = RandomHex(32);
    if (!hex) {
      std::fprintf(stderr, "seed_keys: the CSPRNG failed\n");
      return std::nullopt;
    }
    if (auto created = CreateSecretFile(path, *hex); !created) {
      std::fprintf(stderr, "seed_keys: %s\n", created.error().c_str());
      return std::nullopt;
    }
    read = ReadSecretFile(path);  // re-read: another process may have won the race
  }
  if (!read) {
    std::fprintf(stderr, "seed_keys: %s\n", read.error().message.c_str());
    return std::nullopt;
  }
  if (read->value.size() < kMinPepperBytes) {
    std::fprintf(stderr, "seed_keys: %s holds fewer than %zu bytes\n", path.c_str(),
                 kMinPepperBytes);
    return std::nullopt;
  }
  return std::move(read->value);
}

// Plaintext keys are credentials, even synthetic ones: the file is private to its owner.
bool WriteKeys(const std::string& path, const std::vector<std::string>& keys) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::FILE* f = ::fdopen(fd, "w");
  if (f == nullptr) {
    ::close(fd);
    return false;
  }
  bool ok = true;
  for (const std::string& k : keys) ok &= std::fprintf(f, "%s\n", k.c_str()) > 0;
  return (std::fclose(f) == 0) && ok;
}

int Main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; i += 2) {
    const std::string_view name = argv[i];
    if (!name.starts_with("--") || i + 1 >= argc) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    args[std::string(name.substr(2))] = argv[i + 1];
  }
  for (const char* required : {"db", "pepper-file", "count", "hot", "out"}) {
    if (!args.contains(required)) {
      std::fprintf(stderr, "seed_keys: --%s is required\n%s", required, kUsage);
      return 2;
    }
  }
  for (const auto& [name, value] : args) {
    static const std::string_view kKnown[] = {"db",  "pepper-file", "count",          "hot",
                                              "out", "prefix",      "keys-per-owner", "id-seed"};
    if (std::find(std::begin(kKnown), std::end(kKnown), name) == std::end(kKnown)) {
      std::fprintf(stderr, "seed_keys: unknown option --%s\n%s", name.c_str(), kUsage);
      return 2;
    }
  }

  SeedOptions options;
  options.db_path = args["db"];
  if (args.contains("prefix")) options.prefix = args["prefix"];
  const auto count = ParseCount(args["count"]);
  const auto hot = ParseCount(args["hot"]);
  const auto per_owner =
      ParseCount(args.contains("keys-per-owner") ? args["keys-per-owner"] : "10");
  const auto seed = ParseCount(args.contains("id-seed") ? args["id-seed"] : "1");
  if (!count || !hot || !per_owner || !seed || *hot > *count || *per_owner == 0) {
    std::fprintf(stderr,
                 "seed_keys: --count, --hot, --keys-per-owner and --id-seed take "
                 "whole numbers, with hot <= count and keys-per-owner >= 1\n");
    return 2;
  }
  options.count = *count;
  options.keep = *hot;
  options.keys_per_owner = *per_owner;
  options.id_seed = *seed;
  auto pepper = LoadOrCreatePepper(args["pepper-file"]);
  if (!pepper) return 1;
  options.pepper = std::move(*pepper);

  Logger log(LogLevel::kWarn);
  auto seeded = BulkSeed(options, log);
  if (!seeded) {
    std::fprintf(stderr, "seed_keys: seeding %s failed: %s%s\n", options.db_path.c_str(),
                 seeded.error().message().c_str(),
                 seeded.error() == Errc::kConflict
                     ? " (ids from this --id-seed are already there: pass another --id-seed)"
                     : "");
    return 1;
  }
  if (!WriteKeys(args["out"], seeded->keys)) {
    std::fprintf(stderr, "seed_keys: cannot write %s: %s\n", args["out"].c_str(),
                 std::strerror(errno));
    return 1;
  }
  std::printf("seed_keys: %llu keys into %s in %.2f s (%.2f us/key); %llu plaintexts in %s\n",
              static_cast<unsigned long long>(options.count), options.db_path.c_str(),
              seeded->seconds,
              options.count ? seeded->seconds * 1e6 / static_cast<double>(options.count) : 0.0,
              static_cast<unsigned long long>(options.keep), args["out"].c_str());
  return 0;
}

}  // namespace
}  // namespace keycache::bench

int main(int argc, char** argv) { return keycache::bench::Main(argc, argv); }
