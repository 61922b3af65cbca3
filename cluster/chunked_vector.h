// A growable array stored in fixed-size chunks. Growing never moves or
// copies what is already stored, so it costs no pause however large the
// array is (a std::vector of a million entries copies them all when it
// doubles, which stalls the server's loop). Index arithmetic is a shift and
// a mask.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace lockerd::cluster {

template <typename T, size_t kChunkSize = 16384>
class ChunkedVector {
  static_assert((kChunkSize & (kChunkSize - 1)) == 0, "chunk size must be a power of two");

 public:
  T& operator[](size_t i) { return chunks_[i / kChunkSize][i % kChunkSize]; }
  const T& operator[](size_t i) const { return chunks_[i / kChunkSize][i % kChunkSize]; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& back() { return (*this)[size_ - 1]; }

  void push_back(const T& value) {
    Reserve(size_ + 1);
    (*this)[size_++] = value;
  }
  void pop_back() { --size_; }

  // Grows to `count` entries, new ones set to `fill`; never shrinks storage.
  void resize(size_t count, const T& fill) {
    Reserve(count);
    for (size_t i = size_; i < count; ++i) (*this)[i] = fill;
    size_ = count;
  }

 private:
  void Reserve(size_t count) {
    while (chunks_.size() * kChunkSize < count) {
      // Not zeroed: every entry is written before it is read.
      chunks_.push_back(std::make_unique_for_overwrite<T[]>(kChunkSize));
    }
  }

  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t size_ = 0;
};

}  // namespace lockerd::cluster
