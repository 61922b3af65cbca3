#include "cluster/expiry_heap.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace lockerd::cluster {
namespace {

// Random sets, moves and removals against a reference map: the heap's top is
// always the earliest wake time, and draining yields times in order.
TEST(ExpiryHeap, MatchesReferenceUnderRandomOperations) {
  std::mt19937 rng(42);
  ExpiryHeap heap;
  std::map<uint32_t, int64_t> reference;
  for (int step = 0; step < 20000; ++step) {
    const uint32_t slot = rng() % 500;
    switch (rng() % 3) {
      case 0:
      case 1: {
        const int64_t wake_ms = rng() % 100000;
        heap.Set(slot, wake_ms);
        reference[slot] = wake_ms;
        break;
      }
      case 2:
        heap.Remove(slot);
        reference.erase(slot);
        break;
    }
    ASSERT_EQ(heap.size(), reference.size());
    if (!reference.empty()) {
      int64_t earliest = INT64_MAX;
      for (const auto& [s, wake] : reference) earliest = std::min(earliest, wake);
      ASSERT_EQ(heap.top_wake_ms(), earliest);
      ASSERT_EQ(reference.at(heap.top_slot()), earliest);
    }
  }
  int64_t last = -1;
  while (!heap.empty()) {
    EXPECT_GE(heap.top_wake_ms(), last);
    last = heap.top_wake_ms();
    EXPECT_TRUE(heap.Contains(heap.top_slot()));
    heap.Remove(heap.top_slot());
  }
}

TEST(ExpiryHeap, RemovingAnAbsentSlotIsHarmless) {
  ExpiryHeap heap;
  heap.Remove(7);
  heap.Set(3, 10);
  heap.Remove(7);
  EXPECT_EQ(heap.size(), 1u);
  EXPECT_EQ(heap.NextWakeMs(), 10);
}

}  // namespace
}  // namespace lockerd::cluster
