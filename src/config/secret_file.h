// Reading and creating the small files that hold secrets (pepper, admin token). Stateless
// functions; safe to call from several threads or processes at once: creation never replaces
// an existing file.
#pragma once

#include <boost/system/result.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace keycache {

inline constexpr std::size_t kMaxSecretFileBytes = 4096;

struct SecretFile {
  std::string value;  // the content with trailing whitespace removed
  unsigned mode = 0;  // permission bits (st_mode & 07777)
};

// `bytes` bytes from the OS CSPRNG (RAND_bytes), hex-encoded; nullopt if the CSPRNG fails.
std::optional<std::string> RandomHex(std::size_t bytes);

// Errors are messages naming the path and the reason, never the content.
// A missing file is an error whose `missing` flag is set, so callers can create it instead.
struct SecretFileError {
  std::string message;
  bool missing = false;
};

boost::system::result<SecretFile, SecretFileError> ReadSecretFile(
    const std::filesystem::path& path);

// Writes `content` to a fresh file at `path` with mode 0600: a temporary file opened with
// O_CREAT|O_EXCL is written and fsynced, then linked into place. Linking (not renaming) means
// that when two processes race, the loser gets `already_exists` instead of silently replacing
// the winner's secret. On success the directory is fsynced too.
// The error is a message naming the path and the failing call.
enum class CreateOutcome { kCreated, kAlreadyExists };
boost::system::result<CreateOutcome, std::string> CreateSecretFile(
    const std::filesystem::path& path, std::string_view content);

}  // namespace keycache
