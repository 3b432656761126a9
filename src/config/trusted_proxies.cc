#include "config/trusted_proxies.h"

#include <charconv>

namespace keycache {
namespace {

namespace ip = boost::asio::ip;

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Zeroes every bit after the first `prefix_len`; reports whether any was set.
bool ClearHostBits(std::array<std::uint8_t, 16>& bytes, int prefix_len, int total_bits) {
  bool had_host_bits = false;
  for (int bit = prefix_len; bit < total_bits; ++bit) {
    const std::uint8_t mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    if (bytes[bit / 8] & mask) had_host_bits = true;
    bytes[bit / 8] &= static_cast<std::uint8_t>(~mask);
  }
  return had_host_bits;
}

// Splits an address into the 16-byte form used by Block; mapped IPv6 becomes IPv4.
void Normalise(const ip::address& address, bool& v4, std::array<std::uint8_t, 16>& bytes) {
  bytes.fill(0);
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return Normalise(ip::make_address_v4(ip::v4_mapped, address.to_v6()), v4, bytes);
  }
  v4 = address.is_v4();
  if (v4) {
    const auto b = address.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), bytes.begin());
  } else {
    bytes = address.to_v6().to_bytes();
  }
}

}  // namespace

boost::system::result<TrustedProxies, std::string> TrustedProxies::Parse(std::string_view text) {
  TrustedProxies proxies;
  if (TrimBlanks(text).empty()) return proxies;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view entry = TrimBlanks(text.substr(0, comma));
    const auto fail = [&](std::string_view why) {
      return "\"" + std::string(entry) + "\" " + std::string(why);
    };
    if (entry.empty()) return std::string("empty entry in the list");

    const std::size_t slash = entry.find('/');
    boost::system::error_code ec;
    const ip::address address = ip::make_address(std::string(entry.substr(0, slash)), ec);
    if (ec) return fail("is not an IPv4 or IPv6 address or CIDR block");

    // A mapped block keeps its IPv6 prefix length until it is converted below.
    const bool mapped = address.is_v6() && address.to_v6().is_v4_mapped();
    const int max_len = address.is_v4() ? 32 : 128;
    int prefix_len = max_len;
    if (slash != std::string_view::npos) {
      const std::string_view len_text = entry.substr(slash + 1);
      const auto [ptr, len_ec] =
          std::from_chars(len_text.data(), len_text.data() + len_text.size(), prefix_len);
      if (len_text.empty() || len_ec != std::errc() || ptr != len_text.data() + len_text.size() ||
          prefix_len < 0 || prefix_len > max_len) {
        return fail("has a bad prefix length; expected /0../" + std::to_string(max_len));
      }
    }
    if (mapped && prefix_len < 96) return fail("mixes IPv4-mapped and plain IPv6 addresses");

    Block block;
    Normalise(address, block.v4, block.bytes);
    block.prefix_len = mapped ? prefix_len - 96 : prefix_len;
    if (ClearHostBits(block.bytes, block.prefix_len, block.v4 ? 32 : 128)) {
      return fail("has host bits set after the prefix length");
    }
    proxies.blocks_.push_back(block);

    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return proxies;
}

bool TrustedProxies::Matches(const Block& block, bool v4,
                             const std::array<std::uint8_t, 16>& bytes) {
  if (block.v4 != v4) return false;
  const int full_bytes = block.prefix_len / 8;
  for (int i = 0; i < full_bytes; ++i) {
    if (bytes[i] != block.bytes[i]) return false;
  }
  const int rest_bits = block.prefix_len % 8;
  if (rest_bits == 0) return true;
  const std::uint8_t mask = static_cast<std::uint8_t>(0xFFu << (8 - rest_bits));
  return (bytes[full_bytes] & mask) == block.bytes[full_bytes];
}

bool TrustedProxies::Contains(const boost::asio::ip::address& address) const {
  bool v4 = false;
  std::array<std::uint8_t, 16> bytes{};
  Normalise(address, v4, bytes);
  for (const Block& block : blocks_) {
    if (Matches(block, v4, bytes)) return true;
  }
  return false;
}

}  // namespace keycache
