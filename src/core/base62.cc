#include "core/base62.h"

#include <array>

namespace keycache::base62 {
namespace {

constexpr std::array<std::int8_t, 256> MakeDigitTable() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  }
  return t;
}

constexpr std::array<std::int8_t, 256> kDigitTable = MakeDigitTable();

static_assert(kAlphabet.size() == 62);
static_assert(kDigitTable['0'] == 0 && kDigitTable['Z'] == 35 && kDigitTable['z'] == 61);
static_assert(kDigitTable['_'] == -1 && kDigitTable[0] == -1 && kDigitTable[0xff] == -1);

// 62^10 < 2^64 < 62^11: up to 10 digits never overflow.
constexpr std::size_t kMaxUncheckedDigits = 10;

constexpr std::array<std::uint64_t, kMaxUncheckedDigits + 1> MakePowers() {
  std::array<std::uint64_t, kMaxUncheckedDigits + 1> p{};
  p[0] = 1;
  for (std::size_t i = 1; i < p.size(); ++i) p[i] = p[i - 1] * 62;
  return p;
}

constexpr std::array<std::uint64_t, kMaxUncheckedDigits + 1> kPowers = MakePowers();
static_assert(kPowers[10] == 839299365868340224ULL);

}  // namespace

int DigitValue(char c) { return kDigitTable[static_cast<unsigned char>(c)]; }

void AppendFixed(std::string& out, std::uint64_t v, std::size_t width) {
  const std::size_t start = out.size();
  out.resize(start + width);
  // Fill from the least significant end; zero padding falls out of v reaching 0.
  for (std::size_t i = width; i > 0; --i) {
    out[start + i - 1] = kAlphabet[v % 62];
    v /= 62;
  }
}

std::optional<std::uint64_t> DecodeFixed(std::string_view text) {
  const std::size_t n = text.size();
  int bad = 0;  // sign bit set once any digit is invalid; one branch at the end, not per digit
  if (n <= 2 * kMaxUncheckedDigits) {
    // Two halves of at most kMaxUncheckedDigits digits each (no overflow possible), as two
    // independent multiply chains the CPU runs side by side, then one checked combination.
    // Every key field (id, tag, checksum) takes this path.
    const std::size_t first = n / 2;
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    for (std::size_t i = 0; i < first; ++i) {
      const int a = DigitValue(text[i]);
      const int b = DigitValue(text[first + i]);
      bad |= a | b;
      hi = hi * 62 + static_cast<std::uint64_t>(a & 63);
      lo = lo * 62 + static_cast<std::uint64_t>(b & 63);
    }
    if (n % 2 != 0) {
      const int b = DigitValue(text[n - 1]);
      bad |= b;
      lo = lo * 62 + static_cast<std::uint64_t>(b & 63);
    }
    std::uint64_t v = 0;
    const bool overflow =
        __builtin_mul_overflow(hi, kPowers[n - first], &v) || __builtin_add_overflow(v, lo, &v);
    if (bad < 0 || overflow) return std::nullopt;
    return v;
  }
  std::uint64_t v = 0;
  bool overflow = false;
  for (char c : text) {
    const int d = DigitValue(c);
    bad |= d;
    overflow |= __builtin_mul_overflow(v, std::uint64_t{62}, &v);
    overflow |= __builtin_add_overflow(v, static_cast<std::uint64_t>(d & 63), &v);
  }
  if (bad < 0 || overflow) return std::nullopt;
  return v;
}

}  // namespace keycache::base62
