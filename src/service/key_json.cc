#include "service/key_json.h"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "util/time_format.h"

namespace keycache {
namespace {

boost::json::value TimeOrNull(TimeMs t, TimeMs none) {
  if (t == none) return nullptr;
  return boost::json::value(FormatRfc3339(t));
}

}  // namespace

boost::json::object KeyRecordToJson(const KeyRecord& r, TimeMs now) {
  boost::json::object o;
  o["id"] = KeyIdToString(r.id);
  o["owner_id"] = r.owner_id;
  o["name"] = r.name;
  boost::json::array scopes;
  for (const auto& s : r.scopes) scopes.emplace_back(s);
  o["scopes"] = std::move(scopes);
  o["state"] = KeyStateName(StateAt(r, now));
  o["enabled"] = r.enabled;
  o["created_at"] = FormatRfc3339(r.created_at);
  o["updated_at"] = FormatRfc3339(r.updated_at);
  o["expires_at"] = TimeOrNull(r.expires_at, kNever);
  o["revoked_at"] = TimeOrNull(r.revoked_at, kNever);
  o["revoked_reason"] =
      r.revoked_at == kNever ? boost::json::value(nullptr) : boost::json::value(r.revoked_reason);
  o["replaced_by"] = r.replaced_by == 0 ? boost::json::value(nullptr)
                                        : boost::json::value(KeyIdToString(r.replaced_by));
  o["last_used_at"] = TimeOrNull(r.last_used_at, 0);
  o["last_used_ip"] =
      r.last_used_ip.empty() ? boost::json::value(nullptr) : boost::json::value(r.last_used_ip);
  o["usage_count"] = r.usage_count;
  if (r.metadata_json.empty()) {
    o["metadata"] = nullptr;
  } else {
    boost::system::error_code ec;
    auto parsed = boost::json::parse(r.metadata_json, ec);
    o["metadata"] = ec ? boost::json::value(nullptr) : std::move(parsed);
  }
  return o;
}

std::string RenderOwnerKeys(std::string_view owner_id, std::span<const KeyRecord> keys,
                            TimeMs now) {
  boost::json::object o;
  o["owner_id"] = owner_id;
  o["count"] = keys.size();
  boost::json::array list;
  list.reserve(keys.size());
  for (const auto& k : keys) list.emplace_back(KeyRecordToJson(k, now));
  o["keys"] = std::move(list);
  return boost::json::serialize(o);
}

}  // namespace keycache
