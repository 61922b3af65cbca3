// SHA-256 as Redis's ACL shows passwords (64 lowercase hex digits), from
// OpenSSL's libcrypto, which the server links already for script names.
// Passwords are kept only as these hashes.
#pragma once

#include <string>
#include <string_view>

namespace lockerd::server {

std::string Sha256Hex(std::string_view bytes);

}  // namespace lockerd::server
