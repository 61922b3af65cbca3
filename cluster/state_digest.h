// A running 64-bit digest of a member's state, for tools that compare
// states: the bounded explorer (tests/explorer) prunes the states it has
// seen by it. Order-sensitive: the same values added in the same order give
// the same digest.
//
// Not a cryptographic hash, and nothing in lockerd reads it; distinct
// states collide with a chance of about 2^-64 per pair.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "cluster/ballot.h"

namespace lockerd::cluster {

class StateDigest {
 public:
  template <typename T>
    requires std::is_integral_v<T> || std::is_enum_v<T>
  void Add(T value) {
    value_ = Mix(value_ ^ (static_cast<uint64_t>(value) + kStep));
  }
  void Add(std::string_view text) {
    Add(text.size());
    for (size_t at = 0; at < text.size(); at += 8) {
      uint64_t word = 0;
      std::memcpy(&word, text.data() + at, text.size() - at < 8 ? text.size() - at : 8);
      Add(word);
    }
  }
  void Add(const Ballot& ballot) {
    Add(ballot.round);
    Add((uint64_t{ballot.member} << 32) | ballot.step);
  }

  uint64_t value() const { return value_; }

 private:
  static constexpr uint64_t kStep = 0x9e3779b97f4a7c15ull;
  // splitmix64's finalizer: a bijection that spreads every input bit.
  static uint64_t Mix(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }

  uint64_t value_ = 0x6a09e667f3bcc909ull;
};

}  // namespace lockerd::cluster
