#include "store/pg_params.h"

namespace keycache {

PgParams& PgParams::Text(std::string_view v) {
  values_.emplace_back(std::string(v));
  formats_.push_back(0);
  return *this;
}

PgParams& PgParams::TextOrNull(std::string_view v) { return v.empty() ? Null() : Text(v); }

PgParams& PgParams::Int(std::int64_t v) { return Text(std::to_string(v)); }

PgParams& PgParams::IntOrNull(std::int64_t v, std::int64_t null_value) {
  return v == null_value ? Null() : Int(v);
}

PgParams& PgParams::Bool(bool v) { return Text(v ? "t" : "f"); }

PgParams& PgParams::Bytes(std::span<const std::uint8_t> v) {
  values_.emplace_back(std::string(v.begin(), v.end()));
  formats_.push_back(1);
  return *this;
}

PgParams& PgParams::Null() {
  values_.emplace_back(std::nullopt);
  formats_.push_back(0);
  return *this;
}

std::vector<const char*> PgParams::Values() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
  return out;
}

std::vector<int> PgParams::Lengths() const {
  std::vector<int> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v ? static_cast<int>(v->size()) : 0);
  return out;
}

std::string PgIntArray(std::span<const std::int64_t> values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += std::to_string(values[i]);
  }
  out.push_back('}');
  return out;
}

std::string PgTextArray(std::span<const std::string> values) {
  // Every element quoted, so an empty string or the word NULL stays a string.
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (char ch : values[i]) {
      if (ch == '"' || ch == '\\') out.push_back('\\');
      out.push_back(ch);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

}  // namespace keycache
