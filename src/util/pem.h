// IsPemText: whether a TLS setting holds PEM text itself rather than a file's path (the
// deployment guide passes certificates and keys as contents, e.g. REDIS_TLS_CERT="-----BEGIN
// CERTIFICATE-----\n..."). A pure function; safe from any thread.
#pragma once

#include <string_view>

namespace keycache {

inline bool IsPemText(std::string_view value) {
  return value.find("-----BEGIN ") != std::string_view::npos;
}

}  // namespace keycache
