// PEER: the cluster's traffic between members, on the client port.
//   PEER HELLO <member id> <members> <fingerprint> <nonce>
//       -> "+CHALLENGE <nonce>", or an error and close
//   PEER AUTH <proof>
//       -> "+OK <this member's id> <fingerprint> <proof>", or an error and close
//   PEER PING                                    -> +PONG
//   PEER BATCH <payload>    messages in binary, as links send them
//                           (server/peer/batch.h)           -> no reply
//   PEER PREPARE|PEEK|PROMISE|ACCEPT|ACCEPTED|LEARN|SYNC|SYNCED|PROBE|PROBED
//        <incarnation> <sent ms> <echo incarnation> <echo ms> ...
//                           one message in text, for tests   -> no reply
// The proofs are HMACs of the cluster secret over both nonces
// (server/peer/auth.h): the secret itself never crosses the network.
// Cluster messages get no reply: a link carries one direction, and the
// answer travels as a message on the other member's own link.
#include <algorithm>

#include "server/engine/client.h"
#include "server/commands/handlers.h"
#include "server/engine/engine.h"
#include "base/errors.h"
#include "base/log.h"
#include "server/peer/auth.h"
#include "server/peer/batch.h"
#include "server/peer/codec.h"
#include "server/engine/request_parse.h"

#include "protocol/numbers.h"
#include "server/peer/fingerprint.h"

namespace lockerd::server {
namespace {

void Refuse(CommandContext& c, const std::string& why) {
  ++c.engine.stats().peer_handshakes_refused;
  Log(LogLevel::kWarning, "Refused peer handshake from %s: %s", c.client.peer_address().c_str(),
      why.c_str());
  c.client.peer.challenge.reset();
  c.client.close_after_reply = true;
  c.engine.ReplyError(c.client, errors::PeerHandshakeRefused(why));
}

void Hello(CommandContext& c) {
  if (c.args.size() != 6) {
    return Refuse(c, "expected PEER HELLO <member> <members> <fingerprint> <nonce>");
  }
  const auto member = protocol::ParseInt64(c.args[2]);
  const auto members = protocol::ParseInt64(c.args[3]);
  const Config& config = c.engine.config();
  if (c.engine.members_count() < 2 || config.cluster_secret.empty()) {
    return Refuse(c, "this member is not in a cluster");
  }
  if (c.client.peer.member >= 0 || c.client.peer.challenge) {
    return Refuse(c, "a second PEER HELLO on one link");
  }
  if (config.tls_cluster && !c.client.tls.cert_verified) {
    return Refuse(c, "tls-cluster is on: peers connect to tls-port with a certificate from the CA");
  }
  if (!members || static_cast<size_t>(*members) != c.engine.members_count() ||
      c.args[4] != ClusterFingerprint(config)) {
    return Refuse(c, "the member lists, max-lease-ms, lease-drift or round-timeout-ms differ between members");
  }
  if (!member || *member < 0 || static_cast<size_t>(*member) >= c.engine.members_count() ||
      static_cast<cluster::MemberId>(*member) == c.engine.self()) {
    return Refuse(c, "bad member id");
  }
  if (!LooksLikePeerNonce(c.args[5])) return Refuse(c, "bad nonce");
  auto challenge = std::make_unique<Client::PeerChallenge>();
  challenge->member = static_cast<int>(*member);
  challenge->connecting_nonce = c.args[5];
  challenge->listening_nonce = NewPeerNonce();
  c.client.writer().WriteSimpleString("CHALLENGE " + challenge->listening_nonce);
  c.client.peer.challenge = std::move(challenge);
}

void Auth(CommandContext& c) {
  if (!c.client.peer.challenge) return Refuse(c, "PEER AUTH without PEER HELLO");
  if (c.args.size() != 3) return Refuse(c, "expected PEER AUTH <proof>");
  const Config& config = c.engine.config();
  const Client::PeerChallenge challenge = *c.client.peer.challenge;
  c.client.peer.challenge.reset();
  const auto member = static_cast<cluster::MemberId>(challenge.member);
  const std::string fingerprint = ClusterFingerprint(config);
  const std::string expected =
      PeerProof(config.cluster_secret, PeerRole::kConnecting, challenge.connecting_nonce,
                challenge.listening_nonce, member, c.engine.self(), fingerprint);
  if (!ProofEquals(c.args[2], expected)) return Refuse(c, "wrong cluster secret");
  // A peer may send PEER commands only: the cluster secret is not a client
  // password.
  c.client.peer.member = challenge.member;
  c.client.peer.only = true;
  if (c.engine.process().on_peer_hello) c.engine.process().on_peer_hello(member);
  Log(LogLevel::kVerbose, "Peer link from member %d (%s)", c.client.peer.member,
      c.client.peer_address().c_str());
  const std::string proof =
      PeerProof(config.cluster_secret, PeerRole::kListening, challenge.connecting_nonce,
                challenge.listening_nonce, member, c.engine.self(), fingerprint);
  c.client.writer().WriteSimpleString("OK " + std::to_string(c.engine.self()) + " " + fingerprint +
                                      " " + proof);
}

}  // namespace

void CmdPeer(CommandContext& c) {
  const std::string& kind = c.args[1];
  if (base::EqualsIgnoreCase(kind, "HELLO")) return Hello(c);
  if (base::EqualsIgnoreCase(kind, "AUTH")) return Auth(c);
  if (c.client.peer.member < 0) {
    c.client.close_after_reply = true;
    return c.engine.ReplyError(c.client, errors::kNotPeer);
  }
  if (base::EqualsIgnoreCase(kind, "PING")) return c.client.writer().WriteSimpleString("PONG");
  // Peer message size: a message's only long fields are a key and an owner,
  // so no field may be longer than max-key-bytes (numbers need far less).
  const size_t field_max = std::max<size_t>(c.engine.config().max_key_bytes, 64);
  const auto from = static_cast<cluster::MemberId>(c.client.peer.member);
  if (kind == "BATCH") {
    if (c.args.size() != 3) {
      ++c.engine.stats().peer_messages_malformed;
      return;
    }
    std::string_view payload = c.args[2];
    while (!payload.empty()) {
      const auto message = TakePeerMessage(&payload, from, c.engine.self(), field_max);
      if (!message) {
        ++c.engine.stats().peer_messages_malformed;  // The rest of the batch is dropped.
        return;
      }
      c.engine.ReceivePeer(*message, c.now);
    }
    return;
  }
  for (const std::string& field : c.args) {
    if (field.size() > field_max) {
      ++c.engine.stats().peer_messages_malformed;
      return;
    }
  }
  const auto message = DecodePeerMessage(c.args, from, c.engine.self());
  if (!message) {
    ++c.engine.stats().peer_messages_malformed;  // Counted and dropped, never asserted.
    return;
  }
  c.engine.ReceivePeer(*message, c.now);
}

}  // namespace lockerd::server
