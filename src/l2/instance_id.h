// The id an instance signs its invalidation messages with: the configured one
// (KEYCACHE_INSTANCE_ID) or, when none is, host name, process id and 32 random bits. Thread-safe.
#pragma once

#include <string>

namespace keycache {

std::string MakeInstanceId(const std::string& configured);

}  // namespace keycache
