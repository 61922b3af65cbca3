// The states the explorer has seen, by digest, each with what was left to
// spend when it was explored: the budgets and the depth still allowed,
// packed in a word (7 bits each, so each is at most kLeftMax). A state
// reached again with nothing more left than some earlier visit (every
// amount at most that visit's) can lead nowhere new and is pruned; with
// more of anything left it is explored again. An open-addressing table of
// 16-byte slots keeps millions of states in tens of megabytes.
//
// It stores digests, not states: two states with one digest (a chance of
// about 2^-64 per pair) count as one.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace lockerd::explorer {

class VisitedSet {
 public:
  VisitedSet() : slots_(1 << 16) {}

  // True when nothing seen before with `digest` had at least `left` (amount
  // by amount); the visit is then recorded.
  bool Visit(uint64_t digest, uint64_t left) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    if (digest == 0) digest = 1;  // 0 marks an empty slot.
    const size_t mask = slots_.size() - 1;
    Slot* dominated = nullptr;
    size_t at = digest & mask;
    for (; slots_[at].digest != 0; at = (at + 1) & mask) {
      Slot& slot = slots_[at];
      if (slot.digest != digest) continue;
      if (AtLeast(slot.left, left)) return false;
      if (dominated == nullptr && AtLeast(left, slot.left)) dominated = &slot;
    }
    if (dominated != nullptr) {
      dominated->left = left;
      return true;
    }
    slots_[at] = {digest, left};
    ++size_;
    return true;
  }
  // Visits recorded (a state explored again with more left may count once
  // more).
  size_t size() const { return size_; }

  static constexpr int kLeftMax = 127;
  // Packs up to nine amounts of 0..kLeftMax into a word, for Visit.
  static uint64_t Pack(std::initializer_list<int> amounts) {
    uint64_t packed = 0;
    for (const int amount : amounts) {
      packed = (packed << kBits) | static_cast<uint64_t>(std::clamp(amount, 0, kLeftMax));
    }
    return packed;
  }

 private:
  struct Slot {
    uint64_t digest = 0;  // 0: empty.
    uint64_t left = 0;
  };

  static constexpr int kBits = 7;
  static constexpr uint64_t kMask = (uint64_t{1} << kBits) - 1;

  static bool AtLeast(uint64_t a, uint64_t b) {
    for (int shift = 0; shift + kBits <= 64; shift += kBits) {
      if (((a >> shift) & kMask) < ((b >> shift) & kMask)) return false;
    }
    return true;
  }
  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    const size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.digest == 0) continue;
      size_t at = slot.digest & mask;
      while (slots_[at].digest != 0) at = (at + 1) & mask;
      slots_[at] = slot;
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace lockerd::explorer
