// EnsureSecrets: fills in the admin token and the pepper when the operator left them empty, for
// the embedded SQLite setup only. Runs once at start-up, before the Config is shared; it does
// file I/O and is not meant to run concurrently on the same Config.
#pragma once

#include "config/config.h"
#include "util/error.h"
#include "util/log.h"

namespace keycache {

// For each of admin_token and pepper that is empty: with a SQLite database, load it from
// data_dir/admin-token or data_dir/pepper, or, if the file does not exist, generate 32 random
// bytes (hex-encoded), save them with mode 0600 (creating data_dir with mode 0700 if needed)
// and log `secret_generated file=...`. Never logs a secret. Warns when a loaded file is
// readable by group or others. An existing file is never replaced: a file that is unreadable
// or too short is an error, because a new pepper would silently invalidate every stored key.
// Errors (logged as `secret_error` with the variable and reason):
//   Errc::kBadInput    - non-SQLite database with either secret unset; a file too short
//   Errc::kUnavailable - data_dir or a file cannot be created or read, or the CSPRNG failed
Result<void> EnsureSecrets(Config& config, Logger& log);

inline constexpr const char* kAdminTokenFile = "admin-token";
inline constexpr const char* kPepperFile = "pepper";

}  // namespace keycache
