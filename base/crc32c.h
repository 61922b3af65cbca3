// CRC-32C (Castagnoli), the checksum iSCSI, ext4 and LevelDB's log use: it
// finds every burst of 32 bits or fewer and any odd number of flipped bits.
// Table-driven, one byte at a time: the append-only log checks kilobytes
// per loop turn, far below what would make a faster form worth its code.
#pragma once

#include <cstdint>
#include <string_view>

namespace lockerd::base {

// The CRC of `bytes` continued from `crc` (0 to start).
uint32_t Crc32c(std::string_view bytes, uint32_t crc = 0);

}  // namespace lockerd::base
