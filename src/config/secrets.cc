#include "config/secrets.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "config/secret_file.h"
#include "core/key_hasher.h"

namespace keycache {
namespace {

constexpr std::size_t kGeneratedBytes = 32;

struct SecretSpec {
  const char* variable;  // what the operator would set instead
  const char* file_name;
  std::size_t min_chars;
};

std::string ModeString(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

boost::system::error_code Fail(Logger& log, Errc code, const SecretSpec& spec,
                               std::string_view error) {
  log.Error("secret_error", {{"variable", spec.variable}, {"error", error}});
  return code;
}

Result<void> EnsureDataDir(const std::filesystem::path& configured, Logger& log) {
  std::filesystem::path dir = configured.lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();  // "var/" -> "var"
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return {};
  // Parents get default permissions; only the directory holding the secrets must be private.
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
  const int err = ::mkdir(dir.c_str(), 0700) == 0 ? 0 : errno;
  if (err == 0 || (err == EEXIST && std::filesystem::is_directory(dir, ec))) return {};
  log.Error("secret_error", {{"variable", "KEYCACHE_DATA_DIR"},
                             {"error", "cannot create \"" + dir.string() +
                                           "\": " + std::strerror(err == EEXIST ? ENOTDIR : err)}});
  return Errc::kUnavailable;
}

// Loads the secret from its file, creating the file first if it does not exist. At most two
// rounds: a lost creation race is followed by reading the winner's file.
Result<std::string> LoadOrCreate(const std::filesystem::path& dir, const SecretSpec& spec,
                                 Logger& log) {
  const std::filesystem::path path = dir / spec.file_name;
  for (int round = 0; round < 2; ++round) {
    auto file = ReadSecretFile(path);
    if (file) {
      if (file->value.size() < spec.min_chars) {
        return Fail(log, Errc::kBadInput, spec,
                    "\"" + path.string() + "\" holds " + std::to_string(file->value.size()) +
                        " characters; expected at least " + std::to_string(spec.min_chars) +
                        " (fix or remove the file)");
      }
      if ((file->mode & 077) != 0) {
        log.Warn("secret_file_permissions",
                 {{"file", path.string()}, {"mode", ModeString(file->mode)}, {"expected", "0600"}});
      }
      log.Info("secret_loaded", {{"file", path.string()}});
      return std::move(file->value);
    }
    if (!file.error().missing) {
      return Fail(log, Errc::kUnavailable, spec, file.error().message);
    }
    const auto secret = RandomHex(kGeneratedBytes);
    if (!secret) return Fail(log, Errc::kUnavailable, spec, "the CSPRNG failed");
    auto created = CreateSecretFile(path, *secret + "\n");
    if (!created) return Fail(log, Errc::kUnavailable, spec, created.error());
    if (*created == CreateOutcome::kCreated) {
      log.Info("secret_generated", {{"file", path.string()}});
      return *secret;
    }
    // Another process created it first: use theirs.
  }
  return Fail(log, Errc::kUnavailable, spec, "\"" + path.string() + "\" keeps disappearing");
}

}  // namespace

Result<void> EnsureSecrets(Config& config, Logger& log) {
  const SecretSpec token_spec{"ADMIN_TOKEN", kAdminTokenFile, kMinAdminTokenChars};
  const SecretSpec pepper_spec{"KEYCACHE_PEPPER", kPepperFile, kMinPepperBytes};
  const bool need_token = config.admin_token.empty();
  const bool need_pepper = config.pepper.empty();
  if (!need_token && !need_pepper) return {};

  if (!config.is_sqlite()) {
    const std::string why = "must be set when DATABASE_URL is not SQLite";
    if (need_token) Fail(log, Errc::kBadInput, token_spec, why);
    if (need_pepper) Fail(log, Errc::kBadInput, pepper_spec, why);
    return Errc::kBadInput;
  }

  if (auto dir = EnsureDataDir(config.data_dir, log); !dir) return dir;
  if (need_token) {
    auto token = LoadOrCreate(config.data_dir, token_spec, log);
    if (!token) return token.error();
    config.admin_token = std::move(*token);
  }
  if (need_pepper) {
    auto pepper = LoadOrCreate(config.data_dir, pepper_spec, log);
    if (!pepper) return pepper.error();
    config.pepper = std::move(*pepper);
  }
  return {};
}

}  // namespace keycache
