// PEER: the cluster's traffic between members, on the client port.
//   PEER HELLO <member id> <members> <secret> <fingerprint>
//       -> "+OK <this member's id> <fingerprint>", or an error and close
//   PEER PING                                    -> +PONG
//   PEER PREPARE|PEEK|PROMISE|ACCEPT|ACCEPTED|LEARN|SYNC|SYNCED ...  -> no reply
// Cluster messages get no reply: a link carries one direction, and the
// answer travels as a message on the other member's own link.
#include "server/client.h"
#include "server/commands.h"
#include "server/engine.h"
#include "server/log.h"
#include "server/peer_codec.h"
#include "server/request_parse.h"

#include "protocol/numbers.h"

namespace lockerd::server {
namespace {

// Compares in time independent of where the strings first differ.
bool SecretEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    diff |= static_cast<unsigned char>((i < a.size() ? a[i] : 0) ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

void Hello(CommandContext& c) {
  const auto refuse = [&c](const std::string& why) {
    ++c.engine.stats().peer_handshakes_refused;
    Log(LogLevel::kWarning, "Refused peer handshake from %s: %s",
        c.client.peer_address().c_str(), why.c_str());
    c.client.close_after_reply = true;
    c.engine.ReplyError(c.client, "ERR peer handshake refused: " + why);
  };
  if (c.args.size() != 6) {
    return refuse("expected PEER HELLO <member> <members> <secret> <fingerprint>");
  }
  const auto member = protocol::ParseInt64(c.args[2]);
  const auto members = protocol::ParseInt64(c.args[3]);
  const Config& config = c.engine.config();
  if (c.engine.members_count() < 2 || config.cluster_secret.empty()) {
    return refuse("this member is not in a cluster");
  }
  if (config.tls_cluster && !c.client.tls_cert_verified) {
    return refuse("tls-cluster is on: peers connect to tls-port with a certificate from the CA");
  }
  if (!SecretEquals(c.args[4], config.cluster_secret)) return refuse("wrong cluster secret");
  const std::string fingerprint = ClusterFingerprint(config);
  if (!members || static_cast<size_t>(*members) != c.engine.members_count() ||
      c.args[5] != fingerprint) {
    return refuse("the member lists, max-lease-ms or lease-drift differ between members");
  }
  if (!member || *member < 0 || static_cast<size_t>(*member) >= c.engine.members_count() ||
      static_cast<cluster::MemberId>(*member) == c.engine.self()) {
    return refuse("bad member id");
  }
  // A peer may send PEER commands only: the cluster secret is not a client
  // password.
  c.client.peer_member = static_cast<int>(*member);
  c.client.peer_only = true;
  if (c.engine.process().on_peer_hello) {
    c.engine.process().on_peer_hello(static_cast<cluster::MemberId>(*member));
  }
  Log(LogLevel::kVerbose, "Peer link from member %d (%s)", c.client.peer_member,
      c.client.peer_address().c_str());
  c.client.writer().WriteSimpleString("OK " + std::to_string(c.engine.self()) + " " + fingerprint);
}

}  // namespace

void CmdPeer(CommandContext& c) {
  const std::string& kind = c.args[1];
  if (EqualsIgnoreCase(kind, "HELLO")) return Hello(c);
  if (c.client.peer_member < 0) {
    c.client.close_after_reply = true;
    return c.engine.ReplyError(c.client, "NOPERM not a cluster peer: send PEER HELLO first");
  }
  if (EqualsIgnoreCase(kind, "PING")) return c.client.writer().WriteSimpleString("PONG");
  const auto message = DecodePeerMessage(c.args, static_cast<cluster::MemberId>(c.client.peer_member),
                                         c.engine.self());
  if (!message) {
    ++c.engine.stats().peer_messages_malformed;  // Counted and dropped, never asserted.
    return;
  }
  c.engine.ReceivePeer(*message, c.now);
}

}  // namespace lockerd::server
