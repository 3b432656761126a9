// SharedRead<T>: what one read of the shared cache (Redis) produced, with no "engaged but empty"
// state: a hit (a current, intact entry and its value), a miss (Redis answered but holds no current
// entry: a store read may be sealed under fill_generation()), or no answer (Redis was not
// consulted, failed, or answered something unusable: do not fill). For validation entries T is
// FactsAnswer, so a sealed "no such key" entry is a hit whose value is FactsAnswer::Absent(). Value
// type.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "util/check.h"

namespace keycache {

template <class T>
class SharedRead {
 public:
  SharedRead() = default;  // no answer
  static SharedRead Hit(T value, std::uint64_t generation) {
    return SharedRead(std::move(value), generation);
  }
  static SharedRead Miss(std::uint64_t generation) { return SharedRead(std::nullopt, generation); }
  static SharedRead NoAnswer() { return SharedRead(std::nullopt, std::nullopt); }

  bool hit() const { return value_.has_value(); }
  const T& value() const {
    KC_CHECK(hit());
    return *value_;
  }
  T take_value() {
    KC_CHECK(hit());
    return std::move(*value_);
  }
  // The entry's generation at the read: a store read that starts after this read may be sealed
  // under it. Unset when Redis gave no usable answer.
  std::optional<std::uint64_t> fill_generation() const { return generation_; }

 private:
  SharedRead(std::optional<T> value, std::optional<std::uint64_t> generation)
      : value_(std::move(value)), generation_(generation) {}

  std::optional<T> value_;                   // engaged only for a hit
  std::optional<std::uint64_t> generation_;  // engaged for a hit or a miss
};

}  // namespace keycache
