// A growable array stored in chunks that double in size. Growing never
// moves or copies what is already stored, so it costs no pause however
// large the array is (a std::vector of a million entries copies them all
// when it doubles, which stalls the server's loop). The first chunk is
// small, so a table of a few keys allocates a few hundred bytes, not the
// hundreds of kilobytes a fixed large chunk costs (the explorer builds
// hundreds of thousands of such tables; under ASan each large chunk was an
// mmap, a munmap and a poisoned shadow). A chunk is allocated without
// being written, so the pages of a large one are touched only as entries
// fill it. Index arithmetic is a shift, a bit scan and a subtraction.
#pragma once

#include <bit>
#include <cstddef>
#include <memory>
#include <vector>

namespace lockerd::cluster {

template <typename T>
class ChunkedVector {
 public:
  // Chunk 0 and chunk 1 hold kFirst entries each; chunk k >= 1 holds
  // kFirst << (k - 1), so chunks [0, k] hold kFirst << k in all.
  static constexpr size_t kFirst = 16;

  T& operator[](size_t i) { return At(i); }
  const T& operator[](size_t i) const { return At(i); }

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

  // Appends one entry left unwritten (for storage the caller constructs
  // in place) and returns it.
  T& AppendUnwritten() {
    Reserve(size_ + 1);
    return (*this)[size_++];
  }

 private:
  static constexpr size_t kFirstShift = std::countr_zero(kFirst);

  T& At(size_t i) const {
    const size_t chunk = std::bit_width(i >> kFirstShift);
    const size_t start = chunk == 0 ? 0 : kFirst << (chunk - 1);
    return chunks_[chunk][i - start];
  }
  static size_t ChunkSize(size_t chunk) { return chunk == 0 ? kFirst : kFirst << (chunk - 1); }
  size_t Capacity() const { return chunks_.empty() ? 0 : kFirst << (chunks_.size() - 1); }

  void Reserve(size_t count) {
    while (Capacity() < count) {
      // Not zeroed: every entry is written before it is read.
      chunks_.push_back(std::make_unique_for_overwrite<T[]>(ChunkSize(chunks_.size())));
    }
  }

  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t size_ = 0;
};

}  // namespace lockerd::cluster
