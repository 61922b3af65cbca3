// A string for the lease table's keys and owners: 24 bytes, holding up to
// 23 bytes inline (the typical key or owner: a name, a UUID without dashes,
// "host:pid:thread") and longer ones in one heap block. std::string takes
// 32 bytes plus a heap block for anything over 15 bytes, which made a lease
// with 16-byte key and owner cost more than the same data in redis-server.
#pragma once

#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <string_view>

namespace lockerd::cluster {

class CompactString {
 public:
  static constexpr size_t kInlineMax = 23;

  CompactString() { SetInlineSize(0); }
  explicit CompactString(std::string_view text) : CompactString() { assign(text); }
  CompactString(const CompactString& other) : CompactString() { assign(other.view()); }
  CompactString(CompactString&& other) noexcept {
    std::memcpy(bytes_, other.bytes_, sizeof bytes_);
    other.SetInlineSize(0);
  }
  CompactString& operator=(const CompactString& other) {
    if (this != &other) assign(other.view());
    return *this;
  }
  CompactString& operator=(CompactString&& other) noexcept {
    if (this != &other) {
      Release();
      std::memcpy(bytes_, other.bytes_, sizeof bytes_);
      other.SetInlineSize(0);
    }
    return *this;
  }
  ~CompactString() { Release(); }

  void assign(std::string_view text) {
    if (text.size() <= kInlineMax) {
      // `text` may point into our own heap block, so copy it out first. An
      // empty view may carry a null data(), which memcpy must not see.
      char copy[kInlineMax];
      if (!text.empty()) std::memcpy(copy, text.data(), text.size());
      Release();
      if (!text.empty()) std::memcpy(bytes_, copy, text.size());
      SetInlineSize(text.size());
      return;
    }
    char* block = new char[text.size()];
    std::memcpy(block, text.data(), text.size());
    Release();
    const uint64_t size = text.size();
    std::memcpy(bytes_, &block, sizeof block);
    std::memcpy(bytes_ + 8, &size, sizeof size);
    bytes_[kInlineMax] = static_cast<char>(kHeapMark);
  }
  void clear() { assign({}); }

  bool on_heap() const { return static_cast<unsigned char>(bytes_[kInlineMax]) == kHeapMark; }
  size_t size() const {
    if (!on_heap()) return kInlineMax - static_cast<unsigned char>(bytes_[kInlineMax]);
    uint64_t size;
    std::memcpy(&size, bytes_ + 8, sizeof size);
    return size;
  }
  bool empty() const { return size() == 0; }
  const char* data() const {
    if (!on_heap()) return bytes_;
    const char* block;
    std::memcpy(&block, bytes_, sizeof block);
    return block;
  }
  std::string_view view() const { return {data(), size()}; }
  operator std::string_view() const { return view(); }  // NOLINT: reads like a string.
  std::string str() const { return std::string(view()); }

  friend bool operator==(const CompactString& a, std::string_view b) { return a.view() == b; }
  friend bool operator==(const CompactString& a, const CompactString& b) { return a.view() == b.view(); }
  friend std::ostream& operator<<(std::ostream& out, const CompactString& s) { return out << s.view(); }

 private:
  // The last byte: for an inline string, kInlineMax - size (so a full
  // 23-byte string ends in 0); for a heap string, kHeapMark.
  static constexpr unsigned char kHeapMark = 0xFF;

  void SetInlineSize(size_t size) { bytes_[kInlineMax] = static_cast<char>(kInlineMax - size); }
  void Release() {
    if (on_heap()) delete[] data();
    SetInlineSize(0);
  }

  char bytes_[kInlineMax + 1] = {};  // Zeroed: no path reads a byte never written.
};

static_assert(sizeof(CompactString) == 24);

}  // namespace lockerd::cluster
