#include "server/peer/auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base/check.h"
#include "base/hex.h"
#include "server/security/secret_equals.h"

namespace lockerd::server {
namespace {

constexpr size_t kNonceBytes = 16;

}  // namespace

std::string NewPeerNonce() {
  unsigned char bytes[kNonceBytes];
  CHECK(RAND_bytes(bytes, sizeof bytes) == 1);
  return HexLower(bytes, sizeof bytes);
}

std::string PeerProof(std::string_view secret, PeerRole role, std::string_view connecting_nonce,
                      std::string_view listening_nonce, cluster::MemberId connecting,
                      cluster::MemberId listening, std::string_view fingerprint) {
  // Every field is separated, and the nonces have a fixed length, so no two
  // different handshakes hash the same text.
  std::string text = "lockerd peer v1|";
  text += role == PeerRole::kConnecting ? "connecting|" : "listening|";
  text.append(connecting_nonce).append("|").append(listening_nonce);
  text += "|" + std::to_string(connecting) + "|" + std::to_string(listening) + "|";
  text.append(fingerprint);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  CHECK(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest,
             &length) != nullptr);
  return HexLower(digest, length);
}

bool ProofEquals(std::string_view a, std::string_view b) { return SecretEquals(a, b); }

bool LooksLikePeerNonce(std::string_view nonce) {
  if (nonce.size() != kNonceBytes * 2) return false;
  for (const char c : nonce) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace lockerd::server
