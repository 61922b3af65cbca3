// What peer links send: every cluster message a link queues in one loop
// turn goes into one command,
//   PEER BATCH <payload>
// whose payload holds the messages back to back in a compact binary form
// (a kind byte, then fixed-width little-endian numbers and length-prefixed
// strings). One command per turn instead of one per message spares the
// receiver a RESP parse, a command dispatch and a dozen decimal numbers per
// message: at 100k LOCKs a second a coordinator decodes 400k messages.
// The text form (server/peer/codec.h) stays for tests and debugging.
//
// Peers are untrusted: a payload is read with bounds checks, every field is
// validated as the text decoder does, and the first malformed message
// stops the batch (the caller drops the rest and counts it).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/messages.h"

namespace lockerd::server {

// Appends `message` to a batch payload. `from`/`to` are not encoded: a link
// knows both ends.
void AppendPeerMessage(const cluster::Message& message, std::string* payload);

// Appends "PEER BATCH <payload>" as one RESP command to `out`.
void FramePeerBatch(std::string_view payload, std::string* out);

// Takes the first message off `payload`. Null when it is malformed: cut
// short, an unknown kind, a number out of range, or a string longer than
// `field_bytes_max`.
std::optional<cluster::Message> TakePeerMessage(std::string_view* payload, cluster::MemberId from,
                                                cluster::MemberId to, size_t field_bytes_max);

}  // namespace lockerd::server
