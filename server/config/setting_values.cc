// The value parsers of setting_values.h, and the public ones of config.h:
// memory sizes ("1mb") and "host:port" addresses.
#include "server/config/setting_values.h"

#include <cctype>
#include <optional>
#include <sstream>
#include <string_view>

#include "base/ascii.h"
#include "protocol/numbers.h"
#include "server/config/config.h"

namespace lockerd::server {
namespace settings {

std::string OneValue(const Values& values, std::string* error) {
  if (values.size() != 1) {
    *error = "expects one value, got " + std::to_string(values.size());
    return {};
  }
  return values[0];
}

std::string ParseIntValue(const Values& values, int64_t min, int64_t max, int64_t* out) {
  std::string error;
  const std::string value = OneValue(values, &error);
  if (!error.empty()) return error;
  const auto parsed = protocol::ParseInt64(value);
  if (!parsed || *parsed < min || *parsed > max) {
    return "must be an integer between " + std::to_string(min) + " and " + std::to_string(max);
  }
  *out = *parsed;
  return {};
}

std::string ParseSizeValue(const Values& values, uint64_t min, uint64_t max, bool memory,
                           size_t* out) {
  std::string error;
  const std::string value = OneValue(values, &error);
  if (!error.empty()) return error;
  std::optional<uint64_t> parsed;
  if (memory) {
    parsed = ParseMemory(value);
  } else if (const auto n = protocol::ParseInt64(value); n && *n >= 0) {
    parsed = static_cast<uint64_t>(*n);
  }
  if (!parsed || *parsed < min || *parsed > max) {
    return "must be " + std::string(memory ? "a size (e.g. 1mb) " : "an integer ") + "between " +
           std::to_string(min) + " and " + std::to_string(max);
  }
  *out = static_cast<size_t>(*parsed);
  return {};
}

std::string SetYesNo(bool* field, const Values& values) {
  std::string error;
  const std::string value = base::ToLower(OneValue(values, &error));
  if (!error.empty()) return error;
  if (value == "yes") {
    *field = true;
  } else if (value == "no") {
    *field = false;
  } else {
    return "must be yes or no";
  }
  return {};
}

std::string FormatDouble(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace settings

bool SplitHostPort(std::string_view address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view name = address.substr(0, colon);
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  const auto number = protocol::ParseInt64(address.substr(colon + 1));
  if (name.empty() || !number || *number < 1 || *number > 65535) return false;
  *host = std::string(name);
  *port = static_cast<int>(*number);
  return true;
}

std::optional<uint64_t> ParseMemory(std::string_view text) {
  const std::string lower = base::ToLower(text);
  size_t digits = 0;
  while (digits < lower.size() && std::isdigit(static_cast<unsigned char>(lower[digits]))) ++digits;
  if (digits == 0) return std::nullopt;
  const auto number = protocol::ParseInt64(std::string_view(lower).substr(0, digits));
  if (!number || *number < 0) return std::nullopt;
  const std::string_view unit = std::string_view(lower).substr(digits);
  uint64_t multiplier = 1;
  if (unit.empty() || unit == "b") {
    multiplier = 1;
  } else if (unit == "k") {
    multiplier = 1000;
  } else if (unit == "kb") {
    multiplier = 1024;
  } else if (unit == "m") {
    multiplier = 1000 * 1000;
  } else if (unit == "mb") {
    multiplier = 1024 * 1024;
  } else if (unit == "g") {
    multiplier = 1000ull * 1000 * 1000;
  } else if (unit == "gb") {
    multiplier = 1024ull * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  const auto value = static_cast<uint64_t>(*number);
  if (value > UINT64_MAX / multiplier) return std::nullopt;
  return value * multiplier;
}

}  // namespace lockerd::server
