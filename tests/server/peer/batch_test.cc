// A link's batch of messages survives the wire in order, and a peer's junk
// stops the batch rather than being trusted.
#include "server/peer/batch.h"

#include <gtest/gtest.h>

#include <limits>

#include "protocol/resp_parser.h"
#include "server/peer/codec.h"
#include "tests/server/peer/peer_messages.h"

namespace lockerd::server {
namespace {

using namespace cluster;

constexpr size_t kFieldMax = 64;

// The text form is the reference: equal text means equal messages.
std::string TextOf(const Message& message) {
  std::string text;
  EncodePeerMessage(message, &text);
  return text;
}

TEST(PeerBatch, EveryMessageComesBackInOrderThroughOneCommand) {
  const std::vector<Message> messages = EveryPeerMessageKind();
  std::string payload;
  for (const Message& message : messages) AppendPeerMessage(message, &payload);
  std::string wire;
  FramePeerBatch(payload, &wire);

  protocol::RespParser parser;
  const protocol::ParseResult result = parser.Feed(wire);
  ASSERT_EQ(result.status, protocol::ParseStatus::kComplete);
  EXPECT_EQ(result.consumed_bytes, wire.size()) << "one command, nothing left over";
  ASSERT_EQ(parser.command().size(), 3u);
  EXPECT_EQ(parser.command()[0], "PEER");
  EXPECT_EQ(parser.command()[1], "BATCH");

  std::string_view rest = parser.command()[2];
  for (const Message& message : messages) {
    const auto taken = TakePeerMessage(&rest, 1, 0, kFieldMax);
    ASSERT_TRUE(taken.has_value()) << TextOf(message);
    EXPECT_EQ(taken->from, 1u);
    EXPECT_EQ(taken->to, 0u);
    EXPECT_EQ(TextOf(*taken), TextOf(message));
  }
  EXPECT_TRUE(rest.empty());
}

TEST(PeerBatch, ACutShortMessageIsRefusedAtEveryLength) {
  for (const Message& message : EveryPeerMessageKind()) {
    std::string payload;
    AppendPeerMessage(message, &payload);
    for (size_t size = 0; size < payload.size(); ++size) {
      std::string_view cut(payload.data(), size);
      EXPECT_FALSE(TakePeerMessage(&cut, 1, 0, kFieldMax).has_value())
          << TextOf(message) << " cut to " << size << " bytes";
      EXPECT_EQ(cut.size(), size) << "a refused message consumes nothing";
    }
  }
}

TEST(PeerBatch, FieldsOutOfRangeAreRefused) {
  const auto refused = [](const Message& message, size_t field_max = kFieldMax) {
    std::string payload;
    AppendPeerMessage(message, &payload);
    std::string_view rest = payload;
    return !TakePeerMessage(&rest, 1, 0, field_max).has_value();
  };
  const auto patched = [](const Message& message, size_t offset, char byte) {
    std::string payload;
    AppendPeerMessage(message, &payload);
    payload[offset] = byte;
    std::string_view rest = payload;
    return !TakePeerMessage(&rest, 1, 0, kFieldMax).has_value();
  };
  const Message accepted{1, 0, Accepted{6, {8, 1}, Vote::kYes, {9, 0}, 0}};
  EXPECT_FALSE(refused(accepted));
  // Layout: kind (1), stamp (4 x 8), epoch (8), round id (8), ballot (round 8,
  // member 4, step 4), vote (1), ...
  constexpr size_t kStamp = 40;  // Its stamp and epoch.
  EXPECT_TRUE(patched(accepted, 0, 99)) << "unknown kind";
  EXPECT_TRUE(patched(accepted, kStamp + 25, 4)) << "vote out of range";
  EXPECT_TRUE(patched(accepted, kStamp + 17, 31)) << "no such member";
  EXPECT_TRUE(patched(accepted, kStamp + 8, static_cast<char>(0x80))) << "a number above INT64_MAX";
  EXPECT_TRUE(patched(accepted, 8, static_cast<char>(0x80))) << "a run id above INT64_MAX";
  const Message prepare{1, 0, Prepare{5, "k", {7, 1}}};
  EXPECT_TRUE(patched(prepare, kStamp + 1, 2)) << "a flag is 0 or 1";
  EXPECT_TRUE(refused({1, 0, Prepare{5, std::string(kFieldMax + 1, 'k'), {7, 1}}}))
      << "a key longer than the member's limit";
  EXPECT_FALSE(refused({1, 0, Prepare{5, std::string(kFieldMax, 'k'), {7, 1}}}));
}

TEST(PeerBatch, AHugeLengthDoesNotReadPastTheEnd) {
  std::string payload;
  AppendPeerMessage({1, 0, Prepare{5, "k", {7, 1}}}, &payload);
  // The key's 32-bit length (after the kind, the stamp and epoch, the peek flag and
  // the round id) says 4 GB.
  payload.replace(1 + 40 + 1 + 8, 4, "\xff\xff\xff\xff");
  std::string_view rest = payload;
  EXPECT_FALSE(TakePeerMessage(&rest, 1, 0, std::numeric_limits<size_t>::max()).has_value());
}

}  // namespace
}  // namespace lockerd::server
