// Blocking: LOCK ... WAIT and WAIT block only their own client, wake on
// release or expiry first come first served, time out on the clock, and
// forget a client that disconnects.
#include <gtest/gtest.h>

#include "base/errors.h"
#include "tests/server/engine/engine_fixture.h"

namespace lockerd::server {
namespace {

using testing::Reply;

TEST_F(EngineTest, LockWaitIsWokenByRelease) {
  Client& a = NewClient();
  Client& b = NewClient();
  const int64_t first = One(a, {"LOCK", "k", "a", "5000"}).integer;
  EXPECT_TRUE(Send(b, {"LOCK", "k", "b", "5000", "WAIT", "1000"}).empty()) << "b blocks";
  EXPECT_EQ(b.blocked, BlockKind::kWait);
  EXPECT_EQ(One(a, {"PING"}).text, "PONG") << "only b's connection blocks";
  EXPECT_EQ(One(a, {"RELEASE", "k", "a"}).integer, 1);
  const auto woken = Take(b);
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_GT(woken[0].integer, first);
  EXPECT_EQ(b.blocked, BlockKind::kNone);
  EXPECT_EQ(One(a, {"GET", "k"}).text, "b");
}

TEST_F(EngineTest, LockWaitIsWokenByExpiry) {
  Client& a = NewClient();
  Client& b = NewClient();
  One(a, {"LOCK", "k", "a", "300"});
  Send(b, {"LOCK", "k", "b", "5000", "WAIT", "0"});
  Advance(300);
  EXPECT_TRUE(Take(b).empty());
  Advance(1);
  const auto woken = Take(b);
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_EQ(woken[0].type, Reply::Type::kInteger);
}

TEST_F(EngineTest, LockWaitTimesOutWithNull) {
  Client& a = NewClient();
  Client& b = NewClient();
  One(a, {"LOCK", "k", "a", "5000"});
  Send(b, {"LOCK", "k", "b", "5000", "WAIT", "100"});
  Advance(99);
  EXPECT_TRUE(Take(b).empty());
  Advance(1);
  const auto replies = Take(b);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].IsNull());
  EXPECT_EQ(engine_.waiters().size(), 0u);
  EXPECT_EQ(One(a, {"RELEASE", "k", "a"}).integer, 1);
  EXPECT_TRUE(Take(b).empty()) << "a timed-out waiter is not woken later";
}

TEST_F(EngineTest, WaitersAreServedFirstComeFirstServed) {
  Client& holder = NewClient();
  std::vector<Client*> waiters = {&NewClient(), &NewClient(), &NewClient()};
  One(holder, {"LOCK", "k", "h", "5000"});
  for (size_t i = 0; i < waiters.size(); ++i) {
    Send(*waiters[i], {"LOCK", "k", "w" + std::to_string(i), "5000", "WAIT", "0"});
  }
  std::string previous = "h";
  for (size_t i = 0; i < waiters.size(); ++i) {
    EXPECT_EQ(One(holder, {"DEL", "k"}).integer, 1);
    for (size_t j = 0; j < waiters.size(); ++j) {
      const auto replies = Take(*waiters[j]);
      EXPECT_EQ(replies.size(), j == i ? 1u : 0u) << "release " << i << ", waiter " << j;
    }
    EXPECT_EQ(One(holder, {"GET", "k"}).text, "w" + std::to_string(i));
  }
}

TEST_F(EngineTest, DisconnectedWaiterIsForgotten) {
  Client& a = NewClient();
  Client& b = NewClient();
  Client& c = NewClient();
  One(a, {"LOCK", "k", "a", "5000"});
  Send(b, {"LOCK", "k", "b", "5000", "WAIT", "0"});
  Send(c, {"LOCK", "k", "c", "5000", "WAIT", "0"});
  Disconnect(b);
  EXPECT_EQ(engine_.waiters().size(), 1u);
  One(a, {"RELEASE", "k", "a"});
  EXPECT_EQ(One(a, {"GET", "k"}).text, "c") << "the next live waiter gets it";
}

TEST_F(EngineTest, NewcomerDoesNotJumpTheQueue) {
  // The holder releases and, in the same loop turn, another client asks:
  // the waiter that came first gets the key.
  Client& holder = NewClient();
  Client& waiter = NewClient();
  Client& newcomer = NewClient();
  One(holder, {"LOCK", "k", "h", "5000"});
  Send(waiter, {"LOCK", "k", "w", "5000", "WAIT", "0"});
  engine_.Execute(holder, std::vector<std::string>{"RELEASE", "k", "h"}, now_);
  engine_.Execute(newcomer, std::vector<std::string>{"LOCK", "k", "n", "5000"}, now_);
  EXPECT_TRUE(Take(newcomer).at(0).IsNull()) << "someone is already waiting";
  engine_.Execute(newcomer, std::vector<std::string>{"SET", "k", "n", "NX", "PX", "5000"}, now_);
  EXPECT_TRUE(Take(newcomer).at(0).IsNull());
  EXPECT_TRUE(Send(newcomer, {"LOCK", "k", "n", "5000", "WAIT", "0"}).empty()) << "queues behind";
  EndTurn();
  EXPECT_EQ(Take(waiter).size(), 1u);
  EXPECT_EQ(Take(holder).at(0).integer, 1);
  EXPECT_EQ(One(holder, {"GET", "k"}).text, "w");
  EXPECT_EQ(One(waiter, {"LOCK", "k", "w", "9000"}).type, Reply::Type::kInteger)
      << "the holder renewing is not queue-jumping";
  EXPECT_EQ(One(waiter, {"RELEASE", "k", "w"}).integer, 1);
  EXPECT_EQ(Take(newcomer).size(), 1u) << "then the newcomer, in turn";
}

TEST_F(EngineTest, KilledWaiterIsNotHandedTheLock) {
  Client& holder = NewClient();
  Client& a = NewClient();
  Client& b = NewClient();
  One(holder, {"LOCK", "k", "h", "30000"});
  Send(a, {"LOCK", "k", "a", "30000", "WAIT", "0"});
  Send(b, {"LOCK", "k", "b", "30000", "WAIT", "0"});
  // Pipelined in one read: the release, then a kill of the first waiter.
  engine_.Execute(holder, std::vector<std::string>{"RELEASE", "k", "h"}, now_);
  engine_.Execute(holder, std::vector<std::string>{"CLIENT", "KILL", "ID", std::to_string(a.id())},
                  now_);
  EndTurn();
  EXPECT_TRUE(a.kill_requested);
  EXPECT_EQ(Take(holder).size(), 2u);
  EXPECT_EQ(One(holder, {"GET", "k"}).text, "b");
}

TEST_F(EngineTest, NextWaiterTriesWhenTheHeadTimesOutOnAFreeKey) {
  Client& holder = NewClient();
  Client& first = NewClient();
  Client& second = NewClient();
  One(holder, {"LOCK", "k", "h", "5000"});
  Send(first, {"LOCK", "k", "1", "5000", "WAIT", "100"});
  Send(second, {"LOCK", "k", "2", "5000", "WAIT", "0"});
  Advance(100);
  EXPECT_TRUE(Take(first).at(0).IsNull());
  EXPECT_TRUE(Take(second).empty()) << "still held";
  Disconnect(holder);
  Client& other = NewClient();
  One(other, {"DEL", "k"});
  EXPECT_EQ(Take(second).size(), 1u);
}

TEST_F(EngineTest, WaitReportsTheKeyBeingFreed) {
  Client& a = NewClient();
  Client& b = NewClient();
  Client& c = NewClient();
  EXPECT_EQ(One(b, {"WAIT", "k", "1000"}).integer, 0) << "not held when asked";
  One(a, {"LOCK", "k", "a", "5000"});
  EXPECT_TRUE(Send(b, {"WAIT", "k", "1000"}).empty());
  EXPECT_TRUE(Send(c, {"WAIT", "k", "0"}).empty());
  One(a, {"RELEASE", "k", "a"});
  EXPECT_EQ(Take(b).at(0).integer, 1);
  EXPECT_EQ(Take(c).at(0).integer, 1) << "every observer wakes";
  One(a, {"LOCK", "k", "a", "5000"});
  Send(b, {"WAIT", "k", "50"});
  Advance(50);
  EXPECT_TRUE(Take(b).at(0).IsNull()) << "timeout";
  EXPECT_EQ(One(b, {"WAIT", "k", "-1"}).text, errors::kTimeoutNegative);
}

TEST_F(EngineTest, ObserversAndAcquirersWakeTogether) {
  Client& a = NewClient();
  Client& observer = NewClient();
  Client& acquirer = NewClient();
  One(a, {"LOCK", "k", "a", "5000"});
  Send(acquirer, {"LOCK", "k", "x", "5000", "WAIT", "0"});
  Send(observer, {"WAIT", "k", "0"});
  One(a, {"RELEASE", "k", "a"});
  EXPECT_EQ(Take(observer).at(0).integer, 1);
  EXPECT_EQ(Take(acquirer).at(0).type, Reply::Type::kInteger);
}

TEST_F(EngineTest, WaitersPerKeyAreBounded) {
  Config config;
  config.maxwaiters_per_key = 1;
  Engine engine(LockerdCommands(), config, now_);
  Client a(engine.NextClientId(), "a", "l", 0);
  Client b(engine.NextClientId(), "b", "l", 0);
  Client c(engine.NextClientId(), "c", "l", 0);
  for (Client* client : {&a, &b, &c}) engine.AddClient(client);
  const auto run = [&](Client& client, std::vector<std::string> args) {
    engine.Execute(client, args, now_);
    auto replies = testing::ParseReplies(client.reply());
    client.reply().clear();
    return replies;
  };
  run(a, {"LOCK", "k", "a", "5000"});
  EXPECT_TRUE(run(b, {"LOCK", "k", "b", "5000", "WAIT", "0"}).empty());
  const auto refused = run(c, {"WAIT", "k", "0"});
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].text, errors::kTooManyWaiters);
  EXPECT_EQ(c.blocked, BlockKind::kNone);
  for (Client* client : {&a, &b, &c}) engine.RemoveClient(client);
}

TEST_F(EngineTest, ThousandsOfWaitersWakeOneByOne) {
  Client& holder = NewClient();
  One(holder, {"LOCK", "k", "h", "5000"});
  std::vector<Client*> waiters;
  for (int i = 0; i < 2000; ++i) {
    waiters.push_back(&NewClient());
    Send(*waiters.back(), {"LOCK", "k", std::to_string(i), "5000", "WAIT", "0"});
  }
  EXPECT_EQ(engine_.waiters().size(), 2000u);
  for (int i = 0; i < 2000; ++i) {
    One(holder, {"DEL", "k"});
    ASSERT_EQ(Take(*waiters[static_cast<size_t>(i)]).size(), 1u) << i;
  }
  EXPECT_EQ(engine_.waiters().size(), 0u);
}

}  // namespace
}  // namespace lockerd::server
