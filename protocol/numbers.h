// Strict decimal integers as Redis reads them (string2ll): an optional '-',
// then digits with no leading zero, no '+', no spaces, no overflow. Used for
// RESP lengths and for numeric command arguments alike, so "05", " 5" and
// "5.0" are refused everywhere, as Redis refuses them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace lockerd::protocol {

std::optional<int64_t> ParseInt64(std::string_view text);

}  // namespace lockerd::protocol
