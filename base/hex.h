// Bytes as lowercase hex digits, as Redis shows digests (script names,
// ACL password hashes) and as the peer handshake sends nonces and proofs.
#pragma once

#include <cstddef>
#include <string>

namespace lockerd::server {

inline std::string HexLower(const unsigned char* bytes, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    hex.push_back(kHex[bytes[i] >> 4]);
    hex.push_back(kHex[bytes[i] & 0xf]);
  }
  return hex;
}

}  // namespace lockerd::server
