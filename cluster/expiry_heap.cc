#include "cluster/expiry_heap.h"

namespace lockerd::cluster {

void ExpiryHeap::Place(size_t index, Entry entry) {
  entries_[index] = entry;
  position_[entry.slot] = static_cast<uint32_t>(index);
}

void ExpiryHeap::SiftUp(size_t index) {
  const Entry moving = entries_[index];
  while (index > 0) {
    const size_t parent = (index - 1) / 2;
    if (entries_[parent].wake_ms <= moving.wake_ms) break;
    Place(index, entries_[parent]);
    index = parent;
  }
  Place(index, moving);
}

void ExpiryHeap::SiftDown(size_t index) {
  const Entry moving = entries_[index];
  const size_t count = entries_.size();
  while (true) {
    size_t child = 2 * index + 1;
    if (child >= count) break;
    if (child + 1 < count && entries_[child + 1].wake_ms < entries_[child].wake_ms) ++child;
    if (moving.wake_ms <= entries_[child].wake_ms) break;
    Place(index, entries_[child]);
    index = child;
  }
  Place(index, moving);
}

void ExpiryHeap::Set(uint32_t slot, int64_t wake_ms) {
  if (slot >= position_.size()) position_.resize(slot + 1, kAbsent);
  if (position_[slot] == kAbsent) {
    entries_.push_back(Entry{wake_ms, slot});
    position_[slot] = static_cast<uint32_t>(entries_.size() - 1);
    SiftUp(entries_.size() - 1);
    return;
  }
  const size_t index = position_[slot];
  const int64_t old_wake_ms = entries_[index].wake_ms;
  entries_[index].wake_ms = wake_ms;
  if (wake_ms < old_wake_ms) {
    SiftUp(index);
  } else {
    SiftDown(index);
  }
}

void ExpiryHeap::Remove(uint32_t slot) {
  if (!Contains(slot)) return;
  const size_t index = position_[slot];
  position_[slot] = kAbsent;
  const Entry last = entries_.back();
  entries_.pop_back();
  if (index == entries_.size()) return;  // It was the last entry.
  Place(index, last);
  SiftUp(index);
  SiftDown(position_[last.slot]);
}

}  // namespace lockerd::cluster
