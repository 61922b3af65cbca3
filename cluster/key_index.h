// KeyIndex: finds a lease table slot by key. A chained hash table whose
// chains run through per-slot links (no allocation per key), and which grows
// incrementally, like Redis's dict: while a bigger table is filled, every
// insert or erase moves two buckets across, so no single operation rehashes
// a million keys and stalls the server's loop.
//
// The keys themselves live in the lease table's slots; `KeyOf` returns the
// key of a slot id.
#pragma once

#include <cstdint>
#include <algorithm>
#include <memory>
#include <string_view>
#include <vector>

#include "cluster/chunked_vector.h"
#include "cluster/siphash.h"

namespace lockerd::cluster {

// Chain heads, allocated a chunk at a time when first written: a new table
// twice the size of a million-key one costs nothing until it is filled, so
// its allocation and page faults are spread over the inserts that fill it.
class BucketArray {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  void Reset(size_t count) {
    chunks_.clear();
    chunks_.resize((count + kChunkSize - 1) / kChunkSize);
    size_ = count;
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint32_t Get(size_t i) const {
    const auto& chunk = chunks_[i / kChunkSize];
    return chunk ? chunk[i % kChunkSize] : kNone;
  }
  uint32_t& Ref(size_t i) {
    auto& chunk = chunks_[i / kChunkSize];
    if (!chunk) {
      // A table smaller than a chunk (16 buckets at first) gets only its own.
      const size_t length = std::min(kChunkSize, size_);
      chunk = std::make_unique_for_overwrite<uint32_t[]>(length);
      std::fill_n(chunk.get(), length, kNone);
    }
    return chunk[i % kChunkSize];
  }

 private:
  static constexpr size_t kChunkSize = 4096;
  std::vector<std::unique_ptr<uint32_t[]>> chunks_;
  size_t size_ = 0;
};

template <typename KeyOf>
class KeyIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  KeyIndex(KeyOf key_of, HashKey hash_key) : key_of_(std::move(key_of)), hash_key_(hash_key) {
    tables_[0].Reset(kInitialBuckets);
  }

  // The slot holding `key`, or kNone.
  uint32_t Find(std::string_view key) const {
    const uint64_t hash = Hash(key);
    for (int t = 0; t < (rehashing() ? 2 : 1); ++t) {
      const BucketArray& heads = tables_[t];
      for (uint32_t slot = heads.Get(static_cast<uint32_t>(hash) & (heads.size() - 1)); slot != kNone;
           slot = next_[slot]) {
        if (hashes_[slot] == static_cast<uint32_t>(hash) && key_of_(slot) == key) return slot;
      }
    }
    return kNone;
  }

  // Adds `slot` under `key`, which must not be present.
  void Insert(uint32_t slot, std::string_view key) {
    RehashStep();
    if (!rehashing() && count_ + 1 > tables_[0].size()) StartGrowth();
    if (slot >= next_.size()) {
      next_.resize(slot + 1, kNone);
      hashes_.resize(slot + 1, 0);
    }
    hashes_[slot] = static_cast<uint32_t>(Hash(key));
    Link(rehashing() ? 1 : 0, slot);
    ++count_;
  }

  // Removes `slot`, which must be present.
  void Erase(uint32_t slot) {
    RehashStep();
    // While growing, a slot is in the old table unless its bucket has moved
    // or it was inserted since (inserts go to the new table).
    if (!Unlink(0, slot)) Unlink(1, slot);
    next_[slot] = kNone;
    --count_;
  }

  size_t size() const { return count_; }
  size_t buckets() const { return tables_[0].size() + tables_[1].size(); }

 private:
  static constexpr size_t kInitialBuckets = 16;
  static constexpr int kBucketsPerStep = 2;

  uint64_t Hash(std::string_view key) const { return SipHash13(hash_key_, key); }

  bool rehashing() const { return !tables_[1].empty(); }

  bool Unlink(int table, uint32_t slot) {
    BucketArray& heads = tables_[table];
    if (heads.empty()) return false;
    uint32_t* link = &heads.Ref(hashes_[slot] & (heads.size() - 1));
    while (*link != kNone && *link != slot) link = &next_[*link];
    if (*link == kNone) return false;
    *link = next_[slot];
    return true;
  }

  void Link(int table, uint32_t slot) {
    BucketArray& heads = tables_[table];
    uint32_t& head = heads.Ref(hashes_[slot] & (heads.size() - 1));
    next_[slot] = head;
    head = slot;
  }

  void StartGrowth() {
    tables_[1].Reset(tables_[0].size() * 2);
    rehash_bucket_ = 0;
  }

  void RehashStep() {
    for (int step = 0; step < kBucketsPerStep && rehashing(); ++step) {
      uint32_t slot = tables_[0].Get(rehash_bucket_);
      if (slot != kNone) tables_[0].Ref(rehash_bucket_) = kNone;
      while (slot != kNone) {
        const uint32_t following = next_[slot];
        Link(1, slot);
        slot = following;
      }
      if (++rehash_bucket_ == tables_[0].size()) {
        std::swap(tables_[0], tables_[1]);
        tables_[1].Reset(0);
      }
    }
  }

  KeyOf key_of_;
  HashKey hash_key_;
  BucketArray tables_[2];            // [0] current; [1] the next, while growing.
  size_t rehash_bucket_ = 0;         // Buckets of [0] below this moved to [1].
  ChunkedVector<uint32_t> next_;    // Per slot: the next slot in its chain.
  // Per slot: the low 32 bits of its key's hash, enough to pick a bucket in
  // any table a 32-bit slot id can fill, and to skip most key compares.
  ChunkedVector<uint32_t> hashes_;
  size_t count_ = 0;
};

}  // namespace lockerd::cluster
