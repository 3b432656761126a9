// PgParams: the parameters of one PostgreSQL statement, in libpq's shape (values, lengths,
// formats). Values are sent as text except byte strings, which go in binary so a key hash is
// never rendered as text. Thread-compatible value type.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keycache {

class PgParams {
 public:
  PgParams& Text(std::string_view v);
  PgParams& TextOrNull(std::string_view v);  // "" -> NULL
  PgParams& Int(std::int64_t v);
  PgParams& IntOrNull(std::int64_t v, std::int64_t null_value);  // null_value -> NULL
  PgParams& Bool(bool v);
  PgParams& Bytes(std::span<const std::uint8_t> v);
  PgParams& Null();

  int size() const { return static_cast<int>(values_.size()); }
  // Arrays for PQexecPrepared; valid until the next change to this object.
  std::vector<const char*> Values() const;
  std::vector<int> Lengths() const;
  const int* Formats() const { return formats_.data(); }

 private:
  std::vector<std::optional<std::string>> values_;
  std::vector<int> formats_;  // 0 text, 1 binary
};

// Array literals for `$n::bigint[]` and `$n::text[]` parameters.
std::string PgIntArray(std::span<const std::int64_t> values);
std::string PgTextArray(std::span<const std::string> values);

}  // namespace keycache
