// SHA1 as Redis names scripts (40 lowercase hex digits), from OpenSSL.
#pragma once

#include <string>
#include <string_view>

namespace lockerd::server::script {

std::string Sha1Hex(std::string_view bytes);

// True for 40 hex digits (either case): what EVALSHA accepts as a name.
bool LooksLikeSha1(std::string_view text);

}  // namespace lockerd::server::script
