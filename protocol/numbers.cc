#include "protocol/numbers.h"

#include <limits>

namespace lockerd::protocol {

std::optional<int64_t> ParseInt64(std::string_view text) {
  // 20 characters hold "-9223372036854775808"; anything longer overflows.
  if (text.empty() || text.size() > 20) return std::nullopt;
  if (text == "0") return 0;
  size_t i = 0;
  bool negative = false;
  if (text[0] == '-') {
    negative = true;
    i = 1;
  }
  if (i >= text.size() || text[i] < '1' || text[i] > '9') return std::nullopt;
  // Accumulate as unsigned so that the most negative value fits.
  uint64_t value = 0;
  const uint64_t limit = negative ? uint64_t{1} << 63 : std::numeric_limits<int64_t>::max();
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (limit - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (negative) return static_cast<int64_t>(0 - value);
  return static_cast<int64_t>(value);
}

}  // namespace lockerd::protocol
