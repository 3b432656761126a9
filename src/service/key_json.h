// JSON renderings of key records for the REST API. A record's hash is never rendered.
// Pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <span>
#include <string>
#include <string_view>

#include "core/key_record.h"
#include "util/clock.h"

namespace keycache {

boost::json::object KeyRecordToJson(const KeyRecord& record, TimeMs now);

// {"owner_id": ..., "count": N, "keys": [record, ...]}
std::string RenderOwnerKeys(std::string_view owner_id, std::span<const KeyRecord> keys, TimeMs now);

}  // namespace keycache
