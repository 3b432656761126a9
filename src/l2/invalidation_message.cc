#include "l2/invalidation_message.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace keycache {
namespace {

constexpr std::string_view kKinds[] = {"key", "owner", "type", "all"};
constexpr CacheType kTypes[] = {CacheType::kValidation, CacheType::kScope, CacheType::kUserList,
                                CacheType::kUsage};

boost::system::error_code Bad() { return make_error_code(Errc::kBadInput); }

}  // namespace

std::string EncodeInvalidation(const InvalidationMessage& m) {
  boost::json::object o;
  o["v"] = 1;
  o["kind"] = kKinds[static_cast<int>(m.kind)];
  o["src"] = m.source;
  o["ts_us"] = m.sent_at_us;
  switch (m.kind) {
    case InvalidationMessage::Kind::kKey:
      o["id"] = KeyIdToString(m.id);
      o["owner"] = m.owner;
      break;
    case InvalidationMessage::Kind::kOwner:
      o["owner"] = m.owner;
      break;
    case InvalidationMessage::Kind::kType:
      o["type"] = CacheTypeName(m.type);
      break;
    case InvalidationMessage::Kind::kAll:
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
      !src || !src->is_string() || !ts || !ts->is_int64()) {
    return Bad();
  }
  InvalidationMessage m;
  m.source = src->as_string();
  m.sent_at_us = ts->as_int64();
  int k = 0;
  while (k < 4 && kKinds[k] != kind->as_string()) ++k;
  if (k == 4) return Bad();
  m.kind = static_cast<InvalidationMessage::Kind>(k);
  const auto* owner = o.if_contains("owner");
  if (owner && !owner->is_string()) return Bad();
  // Only key and owner messages carry an owner (EncodeInvalidation writes none for the other
  // kinds), so that a decoded message re-encodes to the same message.
  const bool has_owner =
      m.kind == InvalidationMessage::Kind::kKey || m.kind == InvalidationMessage::Kind::kOwner;
  if (owner && has_owner) m.owner = owner->as_string();
  switch (m.kind) {
    case InvalidationMessage::Kind::kKey: {
      const auto* id = o.if_contains("id");
      if (!id || !id->is_string()) return Bad();
      auto parsed = ParseKeyId(id->as_string());
      if (!parsed) return Bad();
      m.id = *parsed;
      break;
    }
    case InvalidationMessage::Kind::kOwner:
      if (!owner) return Bad();
      break;
    case InvalidationMessage::Kind::kType: {
      const auto* type = o.if_contains("type");
      if (!type || !type->is_string()) return Bad();
      bool found = false;
      for (CacheType t : kTypes) {
        if (CacheTypeName(t) == type->as_string()) {
          m.type = t;
          found = true;
        }
      }
      if (!found) return Bad();
      break;
    }
    case InvalidationMessage::Kind::kAll:
      break;
  }
  return m;
}

}  // namespace keycache
