// Hash maps keyed by client-chosen strings: keyed SipHash against hash
// flooding, and transparent lookup, so a std::string_view finds a
// std::string key without building a string (no allocation on lookups).
//
//   StringSet waiting{16, StringHash{HashKeyFromSeed(seed)}};
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "cluster/siphash.h"

namespace lockerd::cluster {

struct StringHash {
  using is_transparent = void;
  HashKey key;
  size_t operator()(std::string_view text) const { return SipHash13(key, text); }
};

template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;

}  // namespace lockerd::cluster
