// Contention between real clients: a plain LOCK on a held key, LOCK ... WAIT
// woken by a release or by expiry, WAIT's three answers, timeouts, FIFO
// order among waiters and the forgetting of a waiter that disconnects.
// A blocked client's command is sent with SendCommand() and its reply read
// later; INFO's waiting_clients tells when the server has queued it.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/support/lockerd_process.h"
#include "tests/support/raw_client.h"

namespace lockerd::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Long enough for any blocking call here to finish on a slow machine.
constexpr milliseconds kClientTimeout(15000);

class Blocking : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = LockerdProcess::Start();
    holder_ = Connect();
  }

  RedisPtr Connect() {
    RedisPtr client = server_->Connect(kClientTimeout);
    EXPECT_TRUE(client && client->err == 0);
    return client;
  }

  // Sends a blocking command on `client` and returns once the server counts
  // `waiters_count` waiting clients.
  void SendAndWaitQueued(redisContext* client, const std::vector<std::string>& args,
                         int waiters_count) {
    ASSERT_TRUE(SendCommand(client, args));
    ASSERT_TRUE(WaitForInfoField(holder_.get(), "waiting_clients", std::to_string(waiters_count)))
        << "the server never queued " << args[0] << "; waiting_clients is "
        << InfoField(holder_.get(), "waiting_clients");
  }

  int64_t Lock(redisContext* client, const std::string& key, const std::string& owner,
               const std::string& ttl_ms = "5000") {
    ReplyPtr reply = Command(client, {"LOCK", key, owner, ttl_ms});
    if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER) {
      ADD_FAILURE() << "LOCK " << key << " " << owner << " did not answer a token";
      return -1;
    }
    return reply->integer;
  }

  std::unique_ptr<LockerdProcess> server_;
  RedisPtr holder_;
};

TEST_F(Blocking, PlainLockOnAHeldKeyAnswersNull) {
  RedisPtr other = Connect();
  Lock(holder_.get(), "k", "a");
  ReplyPtr reply = Command(other.get(), {"LOCK", "k", "b", "5000"});
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->type, REDIS_REPLY_NIL);
}

TEST_F(Blocking, LockWaitIsWokenByRelease) {
  RedisPtr waiter = Connect();
  const int64_t first = Lock(holder_.get(), "k", "a", "30000");
  SendAndWaitQueued(waiter.get(), {"LOCK", "k", "b", "5000", "WAIT", "5000"}, 1);
  ReplyPtr released = Command(holder_.get(), {"RELEASE", "k", "a"});
  ASSERT_EQ(released->integer, 1);
  ReplyPtr granted = GetReply(waiter.get());
  ASSERT_NE(granted, nullptr) << "the waiter got no reply";
  ASSERT_EQ(granted->type, REDIS_REPLY_INTEGER);
  EXPECT_GT(granted->integer, first);
  ReplyPtr owner = Command(holder_.get(), {"GET", "k"});
  ASSERT_EQ(owner->type, REDIS_REPLY_STRING);
  EXPECT_STREQ(owner->str, "b");
}

TEST_F(Blocking, LockWaitIsWokenByExpiry) {
  RedisPtr waiter = Connect();
  const int64_t first = Lock(holder_.get(), "k", "a", "200");
  SendAndWaitQueued(waiter.get(), {"LOCK", "k", "b", "5000", "WAIT", "5000"}, 1);
  ReplyPtr granted = GetReply(waiter.get());
  ASSERT_NE(granted, nullptr) << "the waiter got no reply";
  ASSERT_EQ(granted->type, REDIS_REPLY_INTEGER) << "the lease of 200 ms did not free the key";
  EXPECT_GT(granted->integer, first);
}

TEST_F(Blocking, LockWaitTimesOutWithNullAfterItsTimeout) {
  RedisPtr waiter = Connect();
  Lock(holder_.get(), "k", "a", "30000");
  const auto start = Clock::now();
  ReplyPtr reply = Command(waiter.get(), {"LOCK", "k", "b", "5000", "WAIT", "100"});
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->type, REDIS_REPLY_NIL);
  EXPECT_GE(elapsed.count(), 90);
  EXPECT_LT(elapsed.count(), 3000);
  EXPECT_TRUE(WaitForInfoField(holder_.get(), "waiting_clients", "0"));
}

TEST_F(Blocking, WaitAnswersOneWhenTheKeyIsReleased) {
  RedisPtr observer = Connect();
  Lock(holder_.get(), "k", "a", "30000");
  SendAndWaitQueued(observer.get(), {"WAIT", "k", "5000"}, 1);
  Command(holder_.get(), {"RELEASE", "k", "a"});
  ReplyPtr reply = GetReply(observer.get());
  ASSERT_NE(reply, nullptr);
  ASSERT_EQ(reply->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(reply->integer, 1);
  // WAIT only watches: it does not take the lock.
  EXPECT_EQ(Command(holder_.get(), {"EXISTS", "k"})->integer, 0);
}

TEST_F(Blocking, WaitAnswersOneWhenTheLeaseExpires) {
  Lock(holder_.get(), "k", "a", "200");
  ReplyPtr reply = Command(holder_.get(), {"WAIT", "k", "5000"});
  ASSERT_NE(reply, nullptr);
  ASSERT_EQ(reply->type, REDIS_REPLY_INTEGER) << "WAIT was not woken by the expiry";
  EXPECT_EQ(reply->integer, 1);
}

TEST_F(Blocking, WaitAnswersZeroWhenTheKeyIsNotHeld) {
  ReplyPtr reply = Command(holder_.get(), {"WAIT", "free-key", "5000"});
  ASSERT_NE(reply, nullptr);
  ASSERT_EQ(reply->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(reply->integer, 0);
}

TEST_F(Blocking, WaitAnswersNullOnTimeout) {
  RedisPtr observer = Connect();
  Lock(holder_.get(), "k", "a", "30000");
  const auto start = Clock::now();
  ReplyPtr reply = Command(observer.get(), {"WAIT", "k", "100"});
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->type, REDIS_REPLY_NIL);
  EXPECT_GE(elapsed.count(), 90);
  EXPECT_LT(elapsed.count(), 3000);
}

// A blocked client's later pipelined commands wait behind the blocked one
// and are answered after it, in order.
TEST_F(Blocking, PipelinedCommandsBehindABlockedLockWaitKeepTheirOrder) {
  Lock(holder_.get(), "k", "a", "30000");
  RawClient waiter(server_->port());
  ASSERT_TRUE(waiter.ok());
  ASSERT_TRUE(waiter.Send("LOCK k b 5000 WAIT 5000\r\nPING\r\nGET k\r\n"));
  ASSERT_TRUE(WaitForInfoField(holder_.get(), "waiting_clients", "1"));
  EXPECT_FALSE(waiter.ReadReply(milliseconds(100)).has_value())
      << "a command behind the blocked LOCK was answered first";
  Command(holder_.get(), {"RELEASE", "k", "a"});
  const std::vector<Reply> replies = waiter.ReadReplies(3, kClientTimeout);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].type, Reply::Type::kInteger) << replies[0].text;
  EXPECT_EQ(replies[1].text, "PONG");
  EXPECT_EQ(replies[2].text, "b");
}

TEST_F(Blocking, WaitersAreServedInArrivalOrder) {
  const std::vector<std::string> owners = {"first", "second", "third"};
  std::vector<RedisPtr> waiters;
  Lock(holder_.get(), "k", "holder", "30000");
  for (size_t i = 0; i < owners.size(); ++i) {
    waiters.push_back(Connect());
    SendAndWaitQueued(waiters.back().get(), {"LOCK", "k", owners[i], "30000", "WAIT", "10000"},
                      static_cast<int>(i + 1));
  }
  std::string releasing = "holder";
  int64_t previous_token = 0;
  for (size_t i = 0; i < owners.size(); ++i) {
    ReplyPtr released = Command(holder_.get(), {"RELEASE", "k", releasing});
    ASSERT_EQ(released->integer, 1) << releasing << " did not hold k";
    ReplyPtr granted = GetReply(waiters[i].get());
    ASSERT_NE(granted, nullptr) << owners[i] << " was not served";
    ASSERT_EQ(granted->type, REDIS_REPLY_INTEGER) << owners[i];
    EXPECT_GT(granted->integer, previous_token);
    previous_token = granted->integer;
    ReplyPtr owner = Command(holder_.get(), {"GET", "k"});
    ASSERT_EQ(owner->type, REDIS_REPLY_STRING);
    EXPECT_EQ(std::string(owner->str), owners[i]) << "served out of order";
    EXPECT_EQ(InfoField(holder_.get(), "waiting_clients"), std::to_string(owners.size() - i - 1));
    releasing = owners[i];
  }
}

TEST_F(Blocking, ADisconnectedWaiterIsForgotten) {
  Lock(holder_.get(), "k", "a", "30000");
  RedisPtr waiter = Connect();
  SendAndWaitQueued(waiter.get(), {"LOCK", "k", "gone", "30000", "WAIT", "0"}, 1);
  ASSERT_EQ(InfoField(holder_.get(), "blocked_clients"), "1");
  waiter.reset();  // Closes the socket while blocked.

  // Released right after the close: the server must drop the closed waiter
  // rather than hand it the lock.
  ReplyPtr released = Command(holder_.get(), {"RELEASE", "k", "a"});
  ASSERT_EQ(released->integer, 1);
  RedisPtr fresh = Connect();
  ReplyPtr granted = Command(fresh.get(), {"LOCK", "k", "fresh", "5000"});
  ASSERT_NE(granted, nullptr);
  EXPECT_EQ(granted->type, REDIS_REPLY_INTEGER) << "the disconnected waiter took the lock";
  EXPECT_TRUE(WaitForInfoField(holder_.get(), "waiting_clients", "0"));
  EXPECT_TRUE(WaitForInfoField(holder_.get(), "blocked_clients", "0"));
}

}  // namespace
}  // namespace lockerd::testing
