// An indexed min-heap of (wake time, slot): the lease table's index of when
// each register next needs attention (a lease deadline, or the end of a free
// register's tombstone). Setting, moving or removing a slot is O(log n), and
// draining what is due touches only what is due, never the whole table.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "cluster/chunked_vector.h"

namespace lockerd::cluster {

class ExpiryHeap {
 public:
  static constexpr uint32_t kAbsent = UINT32_MAX;

  // Adds the slot, or moves it if it is already in the heap.
  void Set(uint32_t slot, int64_t wake_ms);
  void Remove(uint32_t slot);
  bool Contains(uint32_t slot) const {
    return slot < position_.size() && position_[slot] != kAbsent;
  }

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  int64_t top_wake_ms() const { return entries_[0].wake_ms; }
  uint32_t top_slot() const { return entries_[0].slot; }
  std::optional<int64_t> NextWakeMs() const {
    if (entries_.empty()) return std::nullopt;
    return entries_[0].wake_ms;
  }

 private:
  struct Entry {
    int64_t wake_ms;
    uint32_t slot;
  };

  void SiftUp(size_t index);
  void SiftDown(size_t index);
  void Place(size_t index, Entry entry);

  // Chunked so that growing past a million entries never copies them.
  ChunkedVector<Entry> entries_;
  ChunkedVector<uint32_t> position_;  // slot -> index in entries_, or kAbsent.
};

}  // namespace lockerd::cluster
