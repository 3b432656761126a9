#include "core/key_id.h"

#include "core/base62.h"

namespace keycache {

std::string KeyIdToString(KeyId id) {
  std::string out;
  base62::AppendFixed(out, id, kKeyIdChars);
  return out;
}

std::optional<KeyId> ParseKeyId(std::string_view text) {
  if (text.size() != kKeyIdChars) return std::nullopt;
  return base62::DecodeFixed(text);  // rejects values >= 2^64 (62^11 ~ 2^65.5)
}

}  // namespace keycache
