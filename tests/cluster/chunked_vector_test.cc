#include "cluster/chunked_vector.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace lockerd::cluster {
namespace {

// Every index, across the boundaries of chunks that double in size, holds
// what was written there, and growing never moves an entry already stored
// (the lease table keeps slots by address).
TEST(ChunkedVector, HoldsEveryEntryAndNeverMovesOne) {
  ChunkedVector<uint64_t> vector;
  std::vector<const uint64_t*> addresses;
  constexpr size_t kCount = 100'000;
  for (size_t i = 0; i < kCount; ++i) {
    vector.push_back(i * 7 + 1);
    addresses.push_back(&vector[i]);
  }
  ASSERT_EQ(vector.size(), kCount);
  for (size_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(vector[i], i * 7 + 1) << "index " << i;
    ASSERT_EQ(&vector[i], addresses[i]) << "index " << i;
  }
}

TEST(ChunkedVector, ResizeFillsOnlyNewEntriesAndPopBackShrinks) {
  ChunkedVector<uint32_t> vector;
  vector.resize(ChunkedVector<uint32_t>::kFirst + 3, 5);
  vector[0] = 9;
  vector.resize(200, 6);
  EXPECT_EQ(vector[0], 9u);
  EXPECT_EQ(vector[ChunkedVector<uint32_t>::kFirst + 2], 5u);
  EXPECT_EQ(vector[ChunkedVector<uint32_t>::kFirst + 3], 6u);
  EXPECT_EQ(vector.back(), 6u);
  vector.pop_back();
  EXPECT_EQ(vector.size(), 199u);
  vector.AppendUnwritten() = 11;
  EXPECT_EQ(vector[199], 11u);
}

}  // namespace
}  // namespace lockerd::cluster
