// The `timeout` setting on the real binary: an idle client is closed after
// about `timeout` seconds, a client that keeps talking stays, a client
// blocked in LOCK ... WAIT is not cut (its own WAIT timeout applies), and
// timeout 0 (the default) never closes anyone.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/support/lockerd_process.h"
#include "tests/support/raw_client.h"

namespace lockerd::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool Pongs(RawClient& client) {
  if (!client.Send("PING\r\n")) return false;
  const auto reply = client.ReadReply();
  return reply.has_value() && reply->text == "PONG";
}

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

TEST(IdleTimeout, IdleClientIsClosedAfterTheTimeout) {
  auto server = LockerdProcess::Start({.args = {"--timeout", "1"}});
  RawClient idle(server->port());
  ASSERT_TRUE(idle.ok());
  ASSERT_TRUE(Pongs(idle));
  const auto last_activity = Clock::now();
  ASSERT_TRUE(idle.WaitClosed(milliseconds(5000))) << "still open 5 s after its last command";
  const int64_t idle_ms = MsSince(last_activity);
  EXPECT_GE(idle_ms, 900) << "closed before the timeout";
  EXPECT_LE(idle_ms, 2500) << "closed long after the timeout";

  // A client that keeps asking is never idle; it reads the counter.
  RedisPtr observer = server->Connect();
  ASSERT_TRUE(observer && observer->err == 0);
  EXPECT_EQ(InfoField(observer.get(), "client_idle_timeout_disconnections"), "1");
  ReplyPtr timeout = Command(observer.get(), {"CONFIG", "GET", "timeout"});
  ASSERT_EQ(timeout->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(timeout->elements, 2u);
  EXPECT_EQ(std::string(timeout->element[1]->str), "1");
}

TEST(IdleTimeout, ClientPingingEvery300MsStays) {
  auto server = LockerdProcess::Start({.args = {"--timeout", "1"}});
  RawClient talker(server->port());
  ASSERT_TRUE(talker.ok());
  const auto start = Clock::now();
  while (MsSince(start) < 3500) {
    ASSERT_TRUE(Pongs(talker)) << "closed after " << MsSince(start) << " ms despite its PINGs";
    std::this_thread::sleep_for(milliseconds(300));
  }
  EXPECT_FALSE(talker.closed_by_server());
}

TEST(IdleTimeout, ClientBlockedInLockWaitIsNotCut) {
  auto server = LockerdProcess::Start({.args = {"--timeout", "1"}});
  RawClient holder(server->port());
  ASSERT_TRUE(holder.Send("LOCK k holder 60000\r\n"));
  ASSERT_TRUE(holder.ReadReply().has_value());
  RawClient waiter(server->port());
  ASSERT_TRUE(waiter.ok());
  const auto start = Clock::now();
  ASSERT_TRUE(waiter.Send("LOCK k waiter 5000 WAIT 3000\r\n"));
  // Blocked three times as long as the timeout: its WAIT timeout answers.
  const auto reply = waiter.ReadReply(milliseconds(6000));
  ASSERT_TRUE(reply.has_value()) << "the blocked client got no reply (closed: "
                                 << waiter.closed_by_server() << ")";
  EXPECT_TRUE(reply->IsNull()) << "expected the WAIT timeout's null reply";
  EXPECT_GE(MsSince(start), 2900);
  // Once answered it is an ordinary client again, and idle.
  EXPECT_TRUE(waiter.WaitClosed(milliseconds(5000))) << "not closed once idle after its wait";
}

TEST(IdleTimeout, ZeroNeverCloses) {
  auto server = LockerdProcess::Start();
  RawClient idle(server->port());
  ASSERT_TRUE(Pongs(idle));
  EXPECT_FALSE(idle.WaitClosed(milliseconds(2500))) << "closed with timeout 0";
  EXPECT_TRUE(Pongs(idle));
  RedisPtr observer = server->Connect();
  ASSERT_TRUE(observer && observer->err == 0);
  EXPECT_EQ(InfoField(observer.get(), "client_idle_timeout_disconnections"), "0");
}

}  // namespace
}  // namespace lockerd::testing
