// Latency histogram in the HdrHistogram style: log-linear buckets (64 per
// power of two, so about 1.6% precision) from 1 microsecond to hours, O(1)
// to record, fixed memory, mergeable. For the load generator's percentiles.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace lockerd::bench {

class LatencyHistogram {
 public:
  void Record(int64_t micros) {
    const auto value = static_cast<uint64_t>(std::max<int64_t>(micros, 0));
    ++counts_[Index(value)];
    ++count_;
    max_ = std::max(max_, value);
  }
  void Merge(const LatencyHistogram& other) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    max_ = std::max(max_, other.max_);
  }
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  // The smallest value with at least `quantile` of the recordings at or below it.
  uint64_t Percentile(double quantile) const {
    if (count_ == 0) return 0;
    const auto target = static_cast<uint64_t>(quantile * static_cast<double>(count_ - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= target) return std::min(UpperBound(i), max_);
    }
    return max_;
  }

 private:
  static constexpr int kSubBits = 6;  // 64 buckets per power of two.
  static constexpr size_t kBuckets = (64 - kSubBits + 1) << kSubBits;

  static size_t Index(uint64_t value) {
    if (value < (uint64_t{1} << kSubBits)) return static_cast<size_t>(value);
    const int exponent = std::bit_width(value) - 1 - kSubBits;  // >= 0
    const uint64_t mantissa = value >> exponent;                  // In [64, 128).
    return (static_cast<size_t>(exponent + 1) << kSubBits) + static_cast<size_t>(mantissa - 64);
  }
  static uint64_t UpperBound(size_t index) {
    if (index < (size_t{1} << kSubBits)) return index;
    const int exponent = static_cast<int>(index >> kSubBits) - 1;
    const uint64_t mantissa = (index & ((1u << kSubBits) - 1)) + 64;
    return ((mantissa + 1) << exponent) - 1;
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

}  // namespace lockerd::bench
