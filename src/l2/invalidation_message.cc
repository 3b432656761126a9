#include "l2/invalidation_message.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <limits>

namespace keycache {
namespace {

constexpr std::string_view kChangeKinds[] = {"key", "owner", "type", "all"};
constexpr std::string_view kHeartbeatKind = "heartbeat";
constexpr std::string_view kWarmKind = "warm";
// Owner ids are at most 128 characters (4 bytes each in UTF-8); ids of instances at most 64.
constexpr std::size_t kMaxOwnerBytes = 512;
constexpr std::size_t kMaxSourceBytes = 64;

boost::system::error_code Bad() { return make_error_code(Errc::kBadInput); }

}  // namespace

std::string EncodeInvalidation(const InvalidationMessage& m) {
  boost::json::object o;
  o["v"] = 1;
  o["src"] = m.source;
  o["ts_us"] = m.sent_at_us;
  if (m.heartbeat) {
    o["kind"] = kHeartbeatKind;
    o["seq"] = m.heartbeat_seq;
    return boost::json::serialize(o);
  }
  if (m.warm) {
    o["kind"] = kWarmKind;
    return boost::json::serialize(o);
  }
  const CacheChange& c = m.change;
  o["kind"] = kChangeKinds[static_cast<int>(c.kind)];
  switch (c.kind) {
    case CacheChange::Kind::kKey:
      o["id"] = KeyIdToString(c.id);
      o["owner"] = c.owner;
      break;
    case CacheChange::Kind::kOwner:
      o["owner"] = c.owner;
      break;
    case CacheChange::Kind::kType:
      o["type"] = CacheTypeName(c.type);
      break;
    case CacheChange::Kind::kAll:
      break;
  }
  return boost::json::serialize(o);
}

Result<InvalidationMessage> DecodeInvalidation(std::string_view payload) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(payload, ec);
  if (ec || !v.is_object()) return Bad();
  const auto& o = v.as_object();
  const auto* version = o.if_contains("v");
  const auto* kind = o.if_contains("kind");
  const auto* src = o.if_contains("src");
  const auto* ts = o.if_contains("ts_us");
  if (!version || !version->is_int64() || version->as_int64() != 1 || !kind || !kind->is_string() ||
      !src || !src->is_string() || src->as_string().size() > kMaxSourceBytes || !ts ||
      !ts->is_int64()) {
    return Bad();
  }
  InvalidationMessage m;
  m.source = src->as_string();
  m.sent_at_us = ts->as_int64();
  if (kind->as_string() == kHeartbeatKind) {
    const auto* seq = o.if_contains("seq");
    if (!seq) return Bad();
    if (seq->is_uint64()) {
      m.heartbeat_seq = seq->as_uint64();
    } else if (seq->is_int64() && seq->as_int64() >= 0) {
      m.heartbeat_seq = static_cast<std::uint64_t>(seq->as_int64());
    } else {
      return Bad();
    }
    m.heartbeat = true;
    return m;
  }
  if (kind->as_string() == kWarmKind) {
    m.warm = true;
    return m;
  }
  int k = 0;
  while (k < 4 && kChangeKinds[k] != kind->as_string()) ++k;
  if (k == 4) return Bad();
  CacheChange& c = m.change;
  c.kind = static_cast<CacheChange::Kind>(k);
  const auto* owner = o.if_contains("owner");
  if (owner && (!owner->is_string() || owner->as_string().size() > kMaxOwnerBytes)) return Bad();
  // Only key and owner messages carry an owner (EncodeInvalidation writes none for the other
  // kinds), so that a decoded message re-encodes to the same message.
  const bool has_owner = c.kind == CacheChange::Kind::kKey || c.kind == CacheChange::Kind::kOwner;
  if (owner && has_owner) c.owner = owner->as_string();
  switch (c.kind) {
    case CacheChange::Kind::kKey: {
      const auto* id = o.if_contains("id");
      if (!id || !id->is_string()) return Bad();
      auto parsed = ParseKeyId(id->as_string());
      if (!parsed) return Bad();
      c.id = *parsed;
      break;
    }
    case CacheChange::Kind::kOwner:
      if (!owner) return Bad();
      break;
    case CacheChange::Kind::kType: {
      const auto* type = o.if_contains("type");
      if (!type || !type->is_string()) return Bad();
      auto parsed = ParseCacheType(type->as_string());
      if (!parsed) return Bad();
      c.type = *parsed;
      break;
    }
    case CacheChange::Kind::kAll:
      break;
  }
  return m;
}

}  // namespace keycache
