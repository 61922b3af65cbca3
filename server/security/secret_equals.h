// Comparing secrets (passwords, password hashes, peer handshake proofs) in
// time independent of where the strings first differ.
#pragma once

#include <algorithm>
#include <string_view>

namespace lockerd::server {

inline bool SecretEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const char ca = i < a.size() ? a[i] : 0;
    const char cb = i < b.size() ? b[i] : 0;
    diff |= static_cast<unsigned char>(ca ^ cb);
  }
  return diff == 0;
}

}  // namespace lockerd::server
