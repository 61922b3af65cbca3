// SipHash-1-3, a keyed hash: with a secret key chosen at startup, a client
// cannot pick keys that collide in the lease table or the waiter index and
// turn every lookup into a long scan (hash flooding). libstdc++'s std::hash
// is unkeyed, so it is not used for keys that clients choose.
//
// The key comes from a seed the caller passes in (random in the server,
// fixed in tests and the simulator), so this header reads no entropy.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace lockerd::cluster {

struct HashKey {
  uint64_t k0 = 0x736f6d6570736575ull;
  uint64_t k1 = 0x646f72616e646f6dull;
};

// Spreads a 64-bit seed into a 128-bit key (splitmix64).
inline HashKey HashKeyFromSeed(uint64_t seed) {
  const auto next = [&seed] {
    uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  HashKey key;
  key.k0 = next();
  key.k1 = next();
  return key;
}

inline uint64_t SipHash13(const HashKey& key, std::string_view data) {
  uint64_t v0 = 0x736f6d6570736575ull ^ key.k0;
  uint64_t v1 = 0x646f72616e646f6dull ^ key.k1;
  uint64_t v2 = 0x6c7967656e657261ull ^ key.k0;
  uint64_t v3 = 0x7465646279746573ull ^ key.k1;
  const auto rotl = [](uint64_t x, int b) { return (x << b) | (x >> (64 - b)); };
  const auto round = [&] {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  };
  const size_t length = data.size();
  const char* p = data.data();
  const size_t whole = length & ~size_t{7};
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m;
    std::memcpy(&m, p + i, 8);  // Little-endian hosts only (x86-64, arm64).
    v3 ^= m;
    round();
    v0 ^= m;
  }
  uint64_t last = static_cast<uint64_t>(length) << 56;
  for (size_t i = whole; i < length; ++i) {
    last |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * (i - whole));
  }
  v3 ^= last;
  round();
  v0 ^= last;
  v2 ^= 0xff;
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

}  // namespace lockerd::cluster
