#include "server/script/sha1.h"

#include <openssl/evp.h>

#include "base/check.h"
#include "base/hex.h"

namespace lockerd::server::script {

std::string Sha1Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  CHECK(EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha1(), nullptr) == 1);
  return HexLower(digest, length);
}

bool LooksLikeSha1(std::string_view text) {
  if (text.size() != 40) return false;
  for (const char c : text) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

}  // namespace lockerd::server::script
