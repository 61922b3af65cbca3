// Fuzzes the peer-message decoder (server/peer/codec.h) and what a member
// does with what it decodes: peers are untrusted, so no message, however
// odd, may crash a member, trip a CHECK or overflow its arithmetic.
//
// Input: the bytes of a link, read by the RESP parser as the server reads
// any connection (RESP arrays or inline lines). The fuzz input plays
// members 1 and 2 of a 3-member cluster; the Engine of member 0 listens.
//   PEER <kind> <fields...>  decoded (the result must survive encode ->
//                           parse -> decode unchanged, in text and in the
//                           binary batch form), then sent on the peer link
//                           of the current member in a PEER BATCH, as links
//                           send it (after a real PEER HELLO); spelled in
//                           any other case ("peer ..."), or not decoding
//                           (PEER BATCH <bytes> included), it is sent as it
//                           is, through the text decoder
//   FROM 1 | FROM 2         which member the next PEER messages come from
//   TICK <ms>               the clock moves on; timers fire on the way
//   AS <slot>               the next client commands come from client 0 or 1
//   ANSWER [vote held owner token remaining accepted counter quarantine
//          highest]         the current member answers every PREPARE, PEEK
//                           and ACCEPT member 0 sent it and it has not
//                           answered yet, with these fields (numbers; missing
//                           ones are 0, the owner ""): a PROMISE carries
//                           them all (accepted and highest as ballot rounds
//                           of member 1), an ACCEPTED the vote, highest and
//                           quarantine, all in one PEER BATCH. It saves
//                           guessing round ids, so
//                           that the fuzzer can work on what peers say.
//   anything else           a command of the current client on member 0
//                           (LOCK, EVAL ...), to give it rounds in flight
// Set LOCKERD_FUZZ_TRACE=1 to print what member 0 sends to members 1 and 2
// (handy for writing seeds that answer its rounds).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <variant>
#include <string>
#include <string_view>
#include <vector>

#include "base/ascii.h"
#include "protocol/numbers.h"
#include "protocol/resp_parser.h"
#include "server/config/config.h"
#include "server/peer/auth.h"
#include "server/peer/batch.h"
#include "server/peer/codec.h"
#include "tests/fuzz/fuzz_support.h"
#include "server/peer/fingerprint.h"

namespace {

using lockerd::fuzz::Fail;
using lockerd::fuzz::Harness;
using lockerd::base::EqualsIgnoreCase;

constexpr size_t kCommandsMax = 256;
// Client slots of the harness: 0 and 1 are clients, 2 and 3 the peer links
// of members 1 and 2.
constexpr size_t kPeerSlotBase = 1;

// The same in the binary form of PEER BATCH (server/peer/batch.h).
void CheckBinaryRoundTrip(const lockerd::cluster::Message& message) {
  std::string payload;
  lockerd::server::AppendPeerMessage(message, &payload);
  std::string_view rest = payload;
  const auto again = lockerd::server::TakePeerMessage(&rest, message.from, message.to, SIZE_MAX);
  if (!again || !rest.empty()) Fail("a peer message does not come back from its binary form", payload);
  std::string payload_again;
  lockerd::server::AppendPeerMessage(*again, &payload_again);
  if (payload != payload_again) Fail("a peer message changes through its binary form", payload);
}

// The messages as one PEER BATCH command, as a link sends them.
std::vector<std::string> BatchOf(const std::vector<lockerd::cluster::Message>& messages) {
  std::string payload;
  for (const auto& message : messages) lockerd::server::AppendPeerMessage(message, &payload);
  return {"PEER", "BATCH", payload};
}

// A decoded message must come back unchanged from its own encoding.
void CheckRoundTrip(const lockerd::cluster::Message& message, std::span<const std::string> args) {
  std::string wire;
  lockerd::server::EncodePeerMessage(message, &wire);
  lockerd::protocol::RespParser parser;
  const auto result = parser.Feed(wire);
  if (result.status != lockerd::protocol::ParseStatus::kComplete || result.consumed_bytes != wire.size()) {
    Fail("an encoded peer message does not parse as one command", wire);
  }
  const auto again = lockerd::server::DecodePeerMessage(parser.command(), message.from, message.to);
  if (!again) Fail("an encoded peer message does not decode", wire);
  std::string wire_again;
  lockerd::server::EncodePeerMessage(*again, &wire_again);
  if (wire != wire_again) Fail("a peer message changes through encode and decode", wire + " / " + wire_again);
  if (again->body.index() != message.body.index()) Fail("a peer message changes kind", wire);
  (void)args;
  CheckBinaryRoundTrip(message);
}

// The peer handshake of member `from` on client `slot` of member 0, as a
// member's link does it (server/peer/auth.h).
void Handshake(Harness& harness, size_t slot, lockerd::cluster::MemberId from, const std::string& secret,
               const std::string& fingerprint) {
  const std::string nonce = lockerd::server::NewPeerNonce();
  harness.Send(0, slot, {"PEER", "HELLO", std::to_string(from), "3", fingerprint, nonce});
  const std::string& reply = harness.LastReply(0, slot);
  const std::string prefix = "+CHALLENGE ";
  if (reply.rfind(prefix, 0) != 0 || reply.size() < prefix.size() + 2) {
    Fail("PEER HELLO was not answered with a challenge", reply);
  }
  const std::string listening = reply.substr(prefix.size(), reply.size() - prefix.size() - 2);
  harness.Send(0, slot,
               {"PEER", "AUTH",
                lockerd::server::PeerProof(secret, lockerd::server::PeerRole::kConnecting, nonce,
                                           listening, from, 0, fingerprint)});
  if (harness.LastReply(0, slot).rfind("+OK 0 ", 0) != 0) {
    Fail("a peer with the secret was refused", harness.LastReply(0, slot));
  }
}

// What member 0 asked members 1 and 2 and they have not answered yet.
struct Outstanding {
  std::vector<lockerd::cluster::Prepare> prepares;
  std::vector<lockerd::cluster::Accept> accepts;
};

int64_t FieldOr(std::span<const std::string> args, size_t index, int64_t fallback = 0) {
  if (index >= args.size()) return fallback;
  return lockerd::protocol::ParseInt64(args[index]).value_or(fallback);
}

// ANSWER's messages, as the one PEER BATCH a peer link carries.
std::vector<std::string> Answers(Outstanding& outstanding, std::span<const std::string> args,
                                              lockerd::cluster::MemberId from) {
  using lockerd::cluster::Ballot;
  using lockerd::cluster::Vote;
  const auto vote = static_cast<Vote>(static_cast<uint64_t>(FieldOr(args, 1)) % 3);
  const Ballot highest{static_cast<uint64_t>(FieldOr(args, 9)), 1};
  const int64_t quarantine = FieldOr(args, 8);
  std::vector<lockerd::cluster::Message> messages;
  for (const auto& prepare : outstanding.prepares) {
    lockerd::cluster::Promise promise;
    promise.round_id = prepare.round_id;
    promise.ballot = prepare.ballot;
    promise.vote = vote;
    promise.highest = highest;
    promise.accepted = Ballot{static_cast<uint64_t>(FieldOr(args, 6)), 1};
    promise.lease.held = FieldOr(args, 2) != 0;
    promise.lease.owner = args.size() > 3 ? args[3] : std::string();
    promise.lease.token = static_cast<uint64_t>(FieldOr(args, 4));
    promise.lease.remaining_ms = FieldOr(args, 5);
    promise.token_counter = static_cast<uint64_t>(FieldOr(args, 7));
    promise.quarantine_left_ms = quarantine;
    messages.push_back({from, 0, promise});
  }
  for (const auto& accept : outstanding.accepts) {
    messages.push_back({from, 0, lockerd::cluster::Accepted{accept.round_id, accept.ballot, vote, highest,
                                                             quarantine}});
  }
  outstanding = {};
  return BatchOf(messages);
}

void Trace(Harness& harness, Outstanding* outstanding) {
  static const bool trace = std::getenv("LOCKERD_FUZZ_TRACE") != nullptr;
  auto& sent = harness.sent_to_absent();
  for (const auto& message : sent) {
    Outstanding& to = outstanding[message.to == 2 ? 2 : 1];
    if (const auto* prepare = std::get_if<lockerd::cluster::Prepare>(&message.body)) {
      to.prepares.push_back(*prepare);
    } else if (const auto* accept = std::get_if<lockerd::cluster::Accept>(&message.body)) {
      to.accepts.push_back(*accept);
    }
  }
  if (trace) {
    for (const auto& message : sent) {
      // As an inline line, ready to answer in a seed.
      std::string wire;
      lockerd::server::EncodePeerMessage(message, &wire);
      lockerd::protocol::RespParser parser;
      parser.Feed(wire);
      std::string line;
      for (const std::string& arg : parser.command()) line += (arg.empty() ? "\"\"" : arg) + " ";
      std::fprintf(stderr, "member 0 -> %u: %s\n", static_cast<unsigned>(message.to), line.c_str());
    }
  }
  sent.clear();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lockerd::server::Config config;
  config.script_time_limit_ms = 20;
  config.script_memory_limit = 4u << 20;
  Harness harness(config, /*members=*/3, /*engines=*/1);
  const std::string fingerprint = lockerd::server::ClusterFingerprint(harness.engine(0).config());
  const std::string secret = harness.engine(0).config().cluster_secret;

  size_t from = 1;
  size_t slot = 0;
  Outstanding outstanding[3];
  lockerd::protocol::RespParser parser;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t commands = 0;
  while (!input.empty() && commands < kCommandsMax) {
    const auto result = parser.Feed(input);
    input.remove_prefix(result.consumed_bytes);
    if (result.status != lockerd::protocol::ParseStatus::kComplete) break;
    ++commands;
    const std::vector<std::string> args(parser.command().begin(), parser.command().end());
    if (args.size() == 2 && EqualsIgnoreCase(args[0], "FROM")) {
      from = args[1] == "2" ? 2 : 1;
      continue;
    }
    if (args.size() == 2 && EqualsIgnoreCase(args[0], "TICK")) {
      harness.Advance(lockerd::fuzz::LeadingNumber(args[1]).value_or(1));
      Trace(harness, outstanding);
      continue;
    }
    if (args.size() == 2 && EqualsIgnoreCase(args[0], "AS")) {
      slot = args[1] == "1" ? 1 : 0;
      continue;
    }
    std::optional<lockerd::cluster::Message> message;
    if (args.size() >= 2) {
      // The decoder must cope with any argument vector, PEER or not.
      message = lockerd::server::DecodePeerMessage(args, static_cast<lockerd::cluster::MemberId>(from), 0);
      if (message) {
        if (message->from != from || message->to != 0) Fail("the decoder changed the message's ends");
        CheckRoundTrip(*message, args);
      }
    }
    if (args.size() == 3 && EqualsIgnoreCase(args[0], "PEER") && args[1] == "BATCH") {
      // Whatever of a raw batch decodes must survive its binary form.
      std::string_view rest = args[2];
      while (const auto taken = lockerd::server::TakePeerMessage(
                 &rest, static_cast<lockerd::cluster::MemberId>(from), 0, SIZE_MAX)) {
        CheckBinaryRoundTrip(*taken);
      }
    }
    const bool answer = !args.empty() && EqualsIgnoreCase(args[0], "ANSWER");
    if (answer || (!args.empty() && EqualsIgnoreCase(args[0], "PEER"))) {
      if (!harness.Connected(0, kPeerSlotBase + from)) {
        Handshake(harness, kPeerSlotBase + from, static_cast<lockerd::cluster::MemberId>(from), secret,
                  fingerprint);
      }
      if (answer) {
        harness.Send(0, kPeerSlotBase + from,
                     Answers(outstanding[from], args, static_cast<lockerd::cluster::MemberId>(from)));
      } else if (message && args[0] == "PEER") {
        harness.Send(0, kPeerSlotBase + from, BatchOf({*message}));
      } else {
        harness.Send(0, kPeerSlotBase + from, args);
      }
    } else {
      harness.Send(0, slot, args);
    }
    Trace(harness, outstanding);
  }
  harness.Finish();
  Trace(harness, outstanding);
  return 0;
}
