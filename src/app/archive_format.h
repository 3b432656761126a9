// The export file of `keycached export` / `keycached import`: line-oriented JSON, versioned.
// Line 1 is the header:
//   {"format":"keycache-export","version":1,"count":N,"pepper_fingerprint":"<16 hex>",
//    "exported_at":"<RFC 3339>"}
// then exactly N lines, one record each, as stored (the keyed hash in hex, never a plaintext;
// times in Unix milliseconds, null for "never"; the usage counters):
//   {"id":"...","owner_id":"...","name":"...","scopes":[...],"key_hash":"<64 hex>","key_format":2,
//    "created_at":ms,"updated_at":ms,"expires_at":ms|null,"enabled":true,"revoked_at":ms|null,
//    "revoked_reason":"","replaced_by":"..."|null,"last_used_at":ms|null,"last_used_ip":"",
//    "usage_count":n,"metadata":"<JSON object text>"|null}
// The pepper fingerprint is HMAC-SHA256(pepper, a fixed label), first 8 bytes: it tells whether
// two peppers are the same without revealing either. Pure functions; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/key_record.h"
#include "util/error.h"

namespace keycache {

inline constexpr int kArchiveVersion = 1;

struct ArchiveHeader {
  int version = kArchiveVersion;
  std::uint64_t count = 0;
  std::string pepper_fingerprint;
  std::string exported_at;
};

std::string PepperFingerprint(std::string_view pepper);

std::string EncodeArchiveHeader(const ArchiveHeader& h);
std::string EncodeArchiveRecord(const KeyRecord& r);

// Each returns the value, or Errc::kBadInput with `why` saying what is wrong (for the message;
// it never quotes a hash).
Result<ArchiveHeader> DecodeArchiveHeader(std::string_view line, std::string& why);
Result<KeyRecord> DecodeArchiveRecord(std::string_view line, std::string& why);

}  // namespace keycache
