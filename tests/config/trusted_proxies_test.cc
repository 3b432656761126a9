#include "config/trusted_proxies.h"

#include <gtest/gtest.h>

namespace keycache {
namespace {

namespace ip = boost::asio::ip;

TrustedProxies ParseOk(std::string_view text) {
  auto parsed = TrustedProxies::Parse(text);
  EXPECT_TRUE(parsed.has_value()) << (parsed ? "" : parsed.error());
  return parsed ? *parsed : TrustedProxies();
}

bool Contains(const TrustedProxies& p, const char* address) {
  return p.Contains(ip::make_address(address));
}

TEST(TrustedProxies, EmptyTrustsNobody) {
  for (const char* text : {"", "  "}) {
    const TrustedProxies p = ParseOk(text);
    EXPECT_TRUE(p.empty());
    EXPECT_FALSE(Contains(p, "127.0.0.1"));
    EXPECT_FALSE(Contains(p, "::1"));
  }
  EXPECT_FALSE(Contains(TrustedProxies(), "10.0.0.1"));
}

TEST(TrustedProxies, SingleAddressesMatchExactly) {
  const TrustedProxies p = ParseOk("10.0.0.1, ::1");
  EXPECT_EQ(p.size(), 2u);
  EXPECT_TRUE(Contains(p, "10.0.0.1"));
  EXPECT_FALSE(Contains(p, "10.0.0.2"));
  EXPECT_TRUE(Contains(p, "::1"));
  EXPECT_FALSE(Contains(p, "::2"));
}

TEST(TrustedProxies, Ipv4BlocksIncludingOddPrefixLengths) {
  const TrustedProxies p = ParseOk("10.0.0.0/8,192.168.4.0/22,0.0.0.0/0 ");
  EXPECT_TRUE(Contains(p, "10.255.1.2"));
  EXPECT_TRUE(Contains(p, "192.168.7.255"));
  const TrustedProxies narrow = ParseOk("192.168.4.0/22");
  EXPECT_TRUE(Contains(narrow, "192.168.4.0"));
  EXPECT_TRUE(Contains(narrow, "192.168.7.255"));
  EXPECT_FALSE(Contains(narrow, "192.168.8.0"));
  EXPECT_FALSE(Contains(narrow, "192.168.3.255"));
  EXPECT_FALSE(Contains(narrow, "::ffff:192.168.8.1"));
  EXPECT_TRUE(Contains(p, "8.8.8.8"));       // 0.0.0.0/0 matches every IPv4 address
  EXPECT_FALSE(Contains(p, "2001:db8::1"));  // but no IPv6 one
}

TEST(TrustedProxies, Ipv6Blocks) {
  const TrustedProxies p = ParseOk("fd00::/8, 2001:db8:abcc::/47");
  EXPECT_TRUE(Contains(p, "fd12:3456::1"));
  EXPECT_FALSE(Contains(p, "fe80::1"));
  EXPECT_TRUE(Contains(p, "2001:db8:abcc::1"));
  EXPECT_TRUE(Contains(p, "2001:db8:abcd:1::1"));  // differs only in bit 48
  EXPECT_FALSE(Contains(p, "2001:db8:abce::1"));
  EXPECT_FALSE(Contains(p, "2001:db8:abcb::1"));
  EXPECT_FALSE(Contains(p, "10.0.0.1"));
}

TEST(TrustedProxies, Ipv4MappedPeersMatchIpv4Entries) {
  const TrustedProxies p = ParseOk("10.0.0.0/8");
  EXPECT_TRUE(Contains(p, "::ffff:10.1.2.3"));
  EXPECT_FALSE(Contains(p, "::ffff:11.1.2.3"));
}

TEST(TrustedProxies, Ipv4MappedEntriesAreStoredAsIpv4) {
  const TrustedProxies p = ParseOk("::ffff:10.0.0.0/104, ::ffff:192.168.1.1");
  EXPECT_TRUE(Contains(p, "10.9.9.9"));
  EXPECT_TRUE(Contains(p, "::ffff:10.9.9.9"));
  EXPECT_TRUE(Contains(p, "192.168.1.1"));
  EXPECT_FALSE(Contains(p, "11.0.0.1"));
}

TEST(TrustedProxies, RejectsBadEntriesNamingThem) {
  const auto error = [](std::string_view text) {
    auto parsed = TrustedProxies::Parse(text);
    EXPECT_FALSE(parsed.has_value()) << text;
    return parsed ? std::string() : parsed.error();
  };
  EXPECT_EQ(error("10.0.0.1, bogus"), "\"bogus\" is not an IPv4 or IPv6 address or CIDR block");
  EXPECT_EQ(error("10.0.0.0/33"), "\"10.0.0.0/33\" has a bad prefix length; expected /0../32");
  EXPECT_EQ(error("::/129"), "\"::/129\" has a bad prefix length; expected /0../128");
  EXPECT_EQ(error("10.0.0.0/"), "\"10.0.0.0/\" has a bad prefix length; expected /0../32");
  EXPECT_EQ(error("10.0.0.0/8x"), "\"10.0.0.0/8x\" has a bad prefix length; expected /0../32");
  EXPECT_EQ(error("10.0.0.0/-1"), "\"10.0.0.0/-1\" has a bad prefix length; expected /0../32");
  EXPECT_EQ(error("10.0.0.1/8"), "\"10.0.0.1/8\" has host bits set after the prefix length");
  EXPECT_EQ(error("fd00::1/8"), "\"fd00::1/8\" has host bits set after the prefix length");
  EXPECT_EQ(error("::ffff:10.0.0.0/64"),
            "\"::ffff:10.0.0.0/64\" mixes IPv4-mapped and plain IPv6 addresses");
  EXPECT_EQ(error("10.0.0.1,,10.0.0.2"), "empty entry in the list");
  EXPECT_EQ(error("10.0.0.1,"), "empty entry in the list");
}

}  // namespace
}  // namespace keycache
