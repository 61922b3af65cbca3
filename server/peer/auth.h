// The peer handshake's proofs: members prove they know the cluster secret
// with HMAC-SHA256 over both sides' fresh nonces, so the secret never
// crosses the network and a recorded handshake cannot be replayed.
//
//   connecting member                      listening member
//   PEER HELLO <id> <members> <fingerprint> <nonce C>
//                                      ->  +CHALLENGE <nonce L>
//   PEER AUTH <proof of C's side>      ->  (checked: wrong secret -> refused, logged, closed)
//                                      <-  +OK <id> <fingerprint> <proof of L's side>
//   (checked: wrong -> the link is dropped and logged)
//
// The listener proves itself only after the connecting member has, so a
// stranger on the client port learns nothing it could attack offline. The
// two proofs are bound to a role each, so neither can be reflected as the
// other.
#pragma once

#include <string>
#include <string_view>

#include "cluster/ballot.h"

namespace lockerd::server {

enum class PeerRole { kConnecting, kListening };

// 16 random bytes from the OS's generator, as 32 hex digits.
std::string NewPeerNonce();

// The proof of `role` for the handshake between `connecting` and
// `listening` (member ids) with these nonces: 64 hex digits.
std::string PeerProof(std::string_view secret, PeerRole role, std::string_view connecting_nonce,
                      std::string_view listening_nonce, cluster::MemberId connecting,
                      cluster::MemberId listening, std::string_view fingerprint);

// Compares in time independent of where the strings first differ.
bool ProofEquals(std::string_view a, std::string_view b);

// A nonce as the handshake accepts it: 32 hex digits.
bool LooksLikePeerNonce(std::string_view nonce);

}  // namespace lockerd::server
