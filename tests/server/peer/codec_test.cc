// Every cluster message survives the wire, and a peer's junk is refused
// rather than trusted.
#include "server/peer/codec.h"

#include <gtest/gtest.h>

#include "protocol/resp_parser.h"
#include "tests/server/peer/peer_messages.h"

namespace lockerd::server {
namespace {

using namespace cluster;

// Encodes, parses with the client parser, decodes.
std::optional<Message> RoundTrip(const Message& message) {
  std::string bytes;
  EncodePeerMessage(message, &bytes);
  protocol::RespParser parser;
  const protocol::ParseResult result = parser.Feed(bytes);
  EXPECT_EQ(result.status, protocol::ParseStatus::kComplete);
  EXPECT_EQ(result.consumed_bytes, bytes.size()) << "one command, nothing left over";
  return DecodePeerMessage(parser.command(), message.from, message.to);
}

TEST(PeerCodec, EveryMessageRoundTrips) {
  const std::vector<Message> messages = EveryPeerMessageKind();
  for (const Message& message : messages) {
    const auto decoded = RoundTrip(message);
    ASSERT_TRUE(decoded.has_value()) << message.body.index();
    EXPECT_EQ(decoded->body.index(), message.body.index());
    std::string again;
    EncodePeerMessage(*decoded, &again);
    std::string original;
    EncodePeerMessage(message, &original);
    EXPECT_EQ(again, original) << "kind " << message.body.index();
  }
}

TEST(PeerCodec, MalformedMessagesAreRefused) {
  using Args = std::vector<std::string>;
  for (const Args& args : {Args{"PEER", "PREPARE", "1", "k", "2"},                 // Short.
                           Args{"PEER", "PREPARE", "1", "k", "2", "0", "extra"},   // Long.
                           Args{"PEER", "PREPARE", "-1", "k", "2", "0"},           // Negative.
                           Args{"PEER", "PREPARE", "1", "k", "2", "99"},           // No such member.
                           Args{"PEER", "PREPARE", "1", "k", "2", "0.0"},          // Step 0 is "0".
                           Args{"PEER", "PREPARE", "1", "k", "2", "0.x"},          // Bad step.
                           Args{"PEER", "ACCEPTED", "1", "2", "0", "7", "2", "0", "0"},  // Vote.
                           Args{"PEER", "ACCEPT", "1", "k", "2", "0", "2", "o", "1", "5"},  // Flag.
                           Args{"PEER", "NOSUCH"}}) {
    EXPECT_FALSE(DecodePeerMessage(args, 1, 0).has_value()) << args[1];
  }
}

}  // namespace
}  // namespace lockerd::server
