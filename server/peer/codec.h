// Cluster messages as readable RESP commands ("PEER PREPARE <round> <key>
// <ballot round> <ballot member>" ...), which members accept one at a time:
// for tests, fuzzing and debugging by hand. Links send the binary batch of
// server/peer/batch.h instead.
// Peers are untrusted: a message that does not decode is dropped (and
// counted) by the caller, never asserted.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "cluster/messages.h"
#include "protocol/resp_writer.h"

namespace lockerd::server {

// Appends `message` as one RESP command to `out`. `from`/`to` are not
// encoded: a link knows both ends.
void EncodePeerMessage(const cluster::Message& message, std::string* out);

// `args` is a whole command starting with "PEER" and a message kind.
std::optional<cluster::Message> DecodePeerMessage(std::span<const std::string> args,
                                                  cluster::MemberId from, cluster::MemberId to);

// The handshake an outbound link sends (server/peer/auth.h): HELLO first,
// AUTH with its proof once the listening member has sent its nonce.
void EncodePeerHello(cluster::MemberId self, size_t members_count, std::string_view fingerprint,
                     std::string_view nonce, std::string* out);
void EncodePeerAuth(std::string_view proof, std::string* out);
void EncodePeerPing(std::string* out);

}  // namespace lockerd::server
