// The admin CLI (`keycached keys ...`): a thin client of a running keycached's REST API, so
// every change goes through the server and its cache invalidation. Not thread-safe (one call per
// process).
#pragma once

#include <string>
#include <vector>

namespace keycache {

// args: everything after "keys". Returns the process exit code: 0 success (for `verify`: the
// key is valid), 1 refused (4xx, or an invalid key for `verify`), 2 usage error, 3 cannot reach
// the server or it failed (5xx).
int RunKeysCommand(const std::vector<std::string>& args);

void PrintKeysUsage();

}  // namespace keycache
