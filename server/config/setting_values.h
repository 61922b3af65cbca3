// How the words of one setting become a value, for the settings table
// (settings.h): exactly one value, an integer or a size within bounds, yes
// or no; and a number back to text. Each parser returns an error message
// (LoadConfig prefixes where the value came from), or an empty string when
// the value is good. Internal to server/config/. ParseMemory and
// SplitHostPort, which other layers use too, are declared in config.h and
// defined beside these (setting_values.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lockerd::server::settings {

// A setting's words after its name, from one config file line or one flag.
using Values = std::vector<std::string>;

// The single value; sets `error` when there is not exactly one.
std::string OneValue(const Values& values, std::string* error);
std::string ParseIntValue(const Values& values, int64_t min, int64_t max, int64_t* out);
// A count ("100") or, with `memory`, a size ("1mb").
std::string ParseSizeValue(const Values& values, uint64_t min, uint64_t max, bool memory,
                           size_t* out);
std::string SetYesNo(bool* field, const Values& values);
// As CONFIG GET shows a fraction (lease-drift), and as the cluster's
// fingerprint hashes it.
std::string FormatDouble(double value);

}  // namespace lockerd::server::settings
