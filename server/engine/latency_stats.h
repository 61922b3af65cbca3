// Latency of quorum writes, for INFO: count, mean and an estimate of the
// 99th percentile from power-of-two buckets (so recording is O(1) and the
// memory is fixed).
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace lockerd::server {

class LatencyStats {
 public:
  void Add(int64_t micros) {
    const auto value = static_cast<uint64_t>(micros < 0 ? 0 : micros);
    ++count_;
    sum_us_ += value;
    ++buckets_[std::min<size_t>(std::bit_width(value), kBuckets - 1)];
  }
  uint64_t count() const { return count_; }
  double mean_us() const { return count_ == 0 ? 0 : static_cast<double>(sum_us_) / count_; }
  // The upper bound of the bucket holding the 99th percentile.
  uint64_t p99_us() const {
    if (count_ == 0) return 0;
    const uint64_t target = count_ - count_ / 100;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i];
      if (seen >= target) return i == 0 ? 0 : (uint64_t{1} << i) - 1;
    }
    return 0;
  }

 private:
  static constexpr size_t kBuckets = 40;
  uint64_t count_ = 0;
  uint64_t sum_us_ = 0;
  std::array<uint64_t, kBuckets> buckets_{};
};

}  // namespace lockerd::server
