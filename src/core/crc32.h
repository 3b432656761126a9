// CRC-32 (IEEE 802.3, the zlib polynomial) of a byte string. Pure function.
#pragma once

#include <cstdint>
#include <string_view>

namespace keycache {

std::uint32_t Crc32(std::string_view data);

}  // namespace keycache
