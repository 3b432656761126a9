// TrustedProxies: the set of peer addresses (IPv4/IPv6 addresses and CIDR blocks) whose
// X-Forwarded-For header is believed. Immutable after Parse; Contains() is const and thread-safe.
#pragma once

#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/system/result.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keycache {

class TrustedProxies {
 public:
  TrustedProxies() = default;  // trusts nobody

  // A comma-separated list; blanks around entries are ignored; "" means none. Each entry is an
  // address ("10.0.0.1", "::1") or a CIDR block ("10.0.0.0/8", "fd00::/8"). A block with host
  // bits set ("10.0.0.1/8") is refused as a likely typo. IPv4-mapped IPv6 blocks
  // ("::ffff:10.0.0.0/104") are stored as IPv4. The error is a message naming the bad entry.
  static boost::system::result<TrustedProxies, std::string> Parse(std::string_view text);

  // IPv4-mapped IPv6 peers (dual-stack sockets) are matched as the IPv4 address they carry.
  bool Contains(const boost::asio::ip::address& address) const;

  bool empty() const { return blocks_.empty(); }
  std::size_t size() const { return blocks_.size(); }

 private:
  // An address as 16 bytes: IPv6 as is, IPv4 in the first 4 bytes (`v4` tells which).
  struct Block {
    bool v4 = false;
    std::array<std::uint8_t, 16> bytes{};
    int prefix_len = 0;  // 0..32 for IPv4, 0..128 for IPv6
  };

  static bool Matches(const Block& block, bool v4, const std::array<std::uint8_t, 16>& bytes);

  std::vector<Block> blocks_;
};

}  // namespace keycache
