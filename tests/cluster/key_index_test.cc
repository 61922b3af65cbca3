#include "cluster/key_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace lockerd::cluster {
namespace {

struct Keys {
  std::vector<std::string>* keys;
  std::string_view operator()(uint32_t slot) const { return (*keys)[slot]; }
};

// Random inserts and erases across several growths, checked against a map;
// lookups must find every key whether or not its bucket has moved yet.
TEST(KeyIndex, MatchesReferenceWhileGrowing) {
  std::vector<std::string> keys;
  KeyIndex<Keys> index{Keys{&keys}, HashKeyFromSeed(3)};
  std::map<std::string, uint32_t> reference;
  std::vector<uint32_t> free_slots;
  std::mt19937 rng(7);
  for (int step = 0; step < 50000; ++step) {
    const std::string key = "k" + std::to_string(rng() % 20000);
    const auto it = reference.find(key);
    if (it == reference.end()) {
      uint32_t slot;
      if (!free_slots.empty() && rng() % 2) {
        slot = free_slots.back();
        free_slots.pop_back();
        keys[slot] = key;
      } else {
        slot = static_cast<uint32_t>(keys.size());
        keys.push_back(key);
      }
      index.Insert(slot, key);
      reference.emplace(key, slot);
    } else if (rng() % 3 == 0) {
      index.Erase(it->second);
      free_slots.push_back(it->second);
      reference.erase(it);
    }
    ASSERT_EQ(index.size(), reference.size());
    const std::string probe = "k" + std::to_string(rng() % 20000);
    const auto expected = reference.find(probe);
    ASSERT_EQ(index.Find(probe), expected == reference.end() ? index.kNone : expected->second)
        << probe;
  }
  for (const auto& [key, slot] : reference) EXPECT_EQ(index.Find(key), slot);
}

TEST(KeyIndex, GrowsInSmallSteps) {
  std::vector<std::string> keys;
  KeyIndex<Keys> index{Keys{&keys}, HashKeyFromSeed(3)};
  for (uint32_t i = 0; i < 100000; ++i) {
    keys.push_back("key:" + std::to_string(i));
    index.Insert(i, keys.back());
    // Never more than the current table plus one twice its size.
    ASSERT_LE(index.buckets(), 3 * std::max<size_t>(16, index.size()) + 16);
  }
  for (uint32_t i = 0; i < 100000; i += 997) EXPECT_EQ(index.Find(keys[i]), i);
  EXPECT_EQ(index.Find("absent"), index.kNone);
}

}  // namespace
}  // namespace lockerd::cluster

namespace lockerd::cluster {
namespace {

TEST(SipHash, KeyedAndDeterministic) {
  const HashKey a = HashKeyFromSeed(1);
  const HashKey b = HashKeyFromSeed(2);
  EXPECT_EQ(SipHash13(a, "lock:1"), SipHash13(a, "lock:1"));
  EXPECT_NE(SipHash13(a, "lock:1"), SipHash13(b, "lock:1")) << "another key, another hash";
  EXPECT_NE(SipHash13(a, "lock:1"), SipHash13(a, "lock:2"));
  // Lengths around the 8-byte block boundary all hash differently.
  std::set<uint64_t> seen;
  for (size_t n = 0; n < 20; ++n) seen.insert(SipHash13(a, std::string(n, 'x')));
  EXPECT_EQ(seen.size(), 20u);
}

}  // namespace
}  // namespace lockerd::cluster
