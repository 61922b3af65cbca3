// Glob patterns as KEYS, SCAN MATCH and CONFIG GET use them, with Redis's
// rules: '*' any run, '?' one byte, '[abc]', '[^a]', '[a-z]', '\' escapes.
// Matching is on bytes and case-sensitive unless asked otherwise.
#pragma once

#include <string_view>

namespace lockerd::server {

bool GlobMatch(std::string_view pattern, std::string_view text, bool ignore_case = false);

}  // namespace lockerd::server
