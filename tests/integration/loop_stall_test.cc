// INFO stats reports how long the event loop was kept busy in one turn
// (loop_longest_stall_us, loop_stalls_over_10ms): the benchmark reads it
// around a mass expiry. The bound itself lives in bench/, not in a timed
// test; here: the fields are there, count work, and RESETSTAT clears them.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/lockerd_process.h"

namespace lockerd::testing {
namespace {

TEST(LoopStall, InfoReportsTheLongestBusyTurnAndResetStatClearsIt) {
  auto server = LockerdProcess::Start();
  auto client = server->Connect();
  ASSERT_TRUE(client && client->err == 0);
  EXPECT_NE(InfoField(client.get(), "loop_longest_stall_us"), "");
  EXPECT_NE(InfoField(client.get(), "loop_stalls_over_10ms"), "");

  // 20,000 leases in one pipelined batch keep a turn busy for a while, then
  // expire together.
  constexpr int kLeases = 20000;
  for (int i = 0; i < kLeases; ++i) {
    ASSERT_TRUE(SendCommand(client.get(), {"LOCK", "k" + std::to_string(i), "owner", "300"}));
  }
  for (int i = 0; i < kLeases; ++i) ASSERT_NE(GetReply(client.get()), nullptr);
  const auto busy = std::stoull(InfoField(client.get(), "loop_longest_stall_us"));
  EXPECT_GT(busy, 0u);
  if (busy > 10'000) {
    EXPECT_GE(std::stoull(InfoField(client.get(), "loop_stalls_over_10ms")), 1u);
  }

  ReplyPtr reset = Command(client.get(), {"CONFIG", "RESETSTAT"});
  ASSERT_NE(reset, nullptr);
  EXPECT_STREQ(reset->str, "OK");
  // Only the one or two short turns since the reset are counted now; compare
  // with the batch's turn rather than a fixed bound (a shared machine can
  // preempt any turn for 10 ms).
  EXPECT_LT(std::stoull(InfoField(client.get(), "loop_longest_stall_us")), busy);
  ASSERT_TRUE(WaitForInfoField(client.get(), "leases_held", "0"));
  EXPECT_EQ(InfoField(client.get(), "expired_leases"), std::to_string(kLeases));
}

}  // namespace
}  // namespace lockerd::testing
