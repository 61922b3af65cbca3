// ReplyOrder: replies leave in command order whatever order their writes
// complete in.
#include <gtest/gtest.h>

#include "server/engine/reply_order.h"

namespace lockerd::server {
namespace {

void Say(ReplyOrder& order, std::string_view text) { order.writer().WriteSimpleString(text); }

TEST(ReplyOrder, AnswersAtOnceWhenNothingIsInFlight) {
  ReplyOrder order;
  order.AnswerNow([&] { Say(order, "a"); });
  EXPECT_EQ(order.reply(), "+a\r\n");
  EXPECT_FALSE(order.has_slots());
}

TEST(ReplyOrder, HoldsLaterAnswersBehindAWriteInFlight) {
  ReplyOrder order;
  order.BeginCommand(/*pipelined_write=*/true);
  ASSERT_TRUE(order.TakePipelinedWrite());
  EXPECT_FALSE(order.TakePipelinedWrite()) << "one write per command";
  const uint64_t first = order.SlotForWrite();
  order.EndCommand();
  order.AnswerNow([&] { Say(order, "second"); });
  EXPECT_EQ(order.reply(), "");
  {
    ReplyOrder::SlotScope fill(order, first);
    Say(order, "first");
  }
  EXPECT_EQ(order.reply(), "+first\r\n+second\r\n");
  EXPECT_FALSE(order.has_slots());
}

TEST(ReplyOrder, ACommandBehindWritesKeepsItsPlaceForItsOwnWrite) {
  ReplyOrder order;
  order.BeginCommand(true);
  const uint64_t first = order.SlotForWrite();
  order.EndCommand();
  // The second command runs while the first write is in flight: its own
  // write takes the command's slot, and the third answers after both.
  order.BeginCommand(true);
  const uint64_t second = order.SlotForWrite();
  order.EndCommand();
  order.AnswerNow([&] { Say(order, "third"); });
  {
    ReplyOrder::SlotScope fill(order, second);
    Say(order, "second");
  }
  EXPECT_EQ(order.reply(), "");
  {
    ReplyOrder::SlotScope fill(order, first);
    Say(order, "first");
  }
  EXPECT_EQ(order.reply(), "+first\r\n+second\r\n+third\r\n");
}

TEST(ReplyOrder, OutsideACommandNoWritePipelines) {
  ReplyOrder order;
  EXPECT_FALSE(order.TakePipelinedWrite());
  order.BeginCommand(true);
  order.EndCommand();
  EXPECT_FALSE(order.TakePipelinedWrite());
}

}  // namespace
}  // namespace lockerd::server
