// `keycached export --out FILE` and `keycached import --in FILE [--skip-existing]`: every key
// record of the store DATABASE_URL names, with its usage counters, to and from the export file
// (app/archive_format.h), to move a deployment between stores (docs/operations.md, "Moving from
// SQLite to PostgreSQL"). They open the store directly (configuration as for `serve`); import
// checks the whole file before it writes anything, then inserts it in batches of 500, one
// transaction each. Not thread-safe (one call per process).
#pragma once

#include <string>
#include <vector>

namespace keycache {

// args: everything after the command. Exit codes: 0 done, 1 failed (the message says why:
// unreadable or damaged file, another pepper, a conflicting id, the store), 2 usage or
// configuration error.
int RunExportCommand(const std::vector<std::string>& args);
int RunImportCommand(const std::vector<std::string>& args);

}  // namespace keycache
