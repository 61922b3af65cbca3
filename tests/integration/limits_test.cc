// The bounds an operator sets, enforced on real sockets: maxclients,
// maxwaiters-per-key, proto-max-bulk-len and client-output-buffer-limit.
// At each bound the offending client gets an error or is cut off while
// everyone else keeps being served.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>

#include "tests/support/lockerd_process.h"
#include "tests/support/raw_client.h"

namespace lockerd::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool Pongs(redisContext* client) {
  ReplyPtr reply = Command(client, {"PING"});
  return reply != nullptr && reply->type == REDIS_REPLY_STATUS && std::string(reply->str) == "PONG";
}

TEST(Limits, MaxClientsRefusesTheConnectionBeyondTheLimit) {
  auto server = LockerdProcess::Start({.args = {"--maxclients", "2"}});
  RedisPtr first = server->Connect();
  ASSERT_TRUE(first && first->err == 0);
  // The launcher's readiness probe may still be counted for a moment.
  ASSERT_TRUE(WaitForInfoField(first.get(), "connected_clients", "1"));
  RedisPtr second = server->Connect();
  ASSERT_TRUE(second && second->err == 0);
  ASSERT_TRUE(Pongs(second.get()));

  RawClient third(server->port());
  ASSERT_TRUE(third.ok()) << "the kernel accepts; lockerd answers and closes";
  third.Send("PING\r\n");
  auto refused = third.ReadReply();
  ASSERT_TRUE(refused.has_value()) << "the third client got no reply";
  EXPECT_TRUE(refused->IsError());
  EXPECT_EQ(refused->text, "ERR max number of clients reached");
  EXPECT_TRUE(third.WaitClosed());

  EXPECT_TRUE(Pongs(first.get()));
  EXPECT_TRUE(Pongs(second.get()));
  EXPECT_EQ(InfoField(first.get(), "connected_clients"), "2");

  // A freed slot can be used again.
  second.reset();
  ASSERT_TRUE(WaitForInfoField(first.get(), "connected_clients", "1"));
  RedisPtr replacement = server->Connect();
  ASSERT_TRUE(replacement && replacement->err == 0);
  EXPECT_TRUE(Pongs(replacement.get()));
}

// The soft open-files limit of a process (/proc/<pid>/limits), -1 if unknown.
long SoftOpenFilesLimit(pid_t pid) {
  std::ifstream limits("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(limits, line)) {
    if (line.rfind("Max open files", 0) == 0) return std::stol(line.substr(26));
  }
  return -1;
}

// Started with a soft open-files limit far below maxclients (the common
// 1024 against 10000), lockerd raises its own, as Redis does, so that
// accept() does not fail with EMFILE long before maxclients.
TEST(Limits, LockerdRaisesItsOpenFilesLimitForMaxClients) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < 2000) {
    GTEST_SKIP() << "the hard open-files limit (" << saved.rlim_max << ") is below 2000";
  }
  rlimit low = saved;
  low.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  auto server = LockerdProcess::Start({.args = {"--maxclients", "1500"}});
  setrlimit(RLIMIT_NOFILE, &saved);  // lockerd inherited the low limit.
  RedisPtr client = server->Connect();
  ASSERT_TRUE(client && client->err == 0);
  EXPECT_GE(SoftOpenFilesLimit(server->pid()), 1500 + 32);
  ReplyPtr maxclients = Command(client.get(), {"CONFIG", "GET", "maxclients"});
  ASSERT_EQ(maxclients->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(maxclients->elements, 2u);
  EXPECT_EQ(std::string(maxclients->element[1]->str), "1500");
}

TEST(Limits, MaxWaitersPerKeyRefusesTheExtraWaiter) {
  auto server = LockerdProcess::Start({.args = {"--maxwaiters-per-key", "1"}});
  RedisPtr holder = server->Connect();
  RedisPtr waiter = server->Connect(milliseconds(15000));
  RedisPtr extra = server->Connect();
  ASSERT_TRUE(holder && waiter && extra);
  ASSERT_EQ(Command(holder.get(), {"LOCK", "k", "holder", "30000"})->type, REDIS_REPLY_INTEGER);
  ASSERT_TRUE(SendCommand(waiter.get(), {"LOCK", "k", "waiter", "5000", "WAIT", "10000"}));
  ASSERT_TRUE(WaitForInfoField(holder.get(), "waiting_clients", "1"));

  ReplyPtr refused = Command(extra.get(), {"LOCK", "k", "extra", "5000", "WAIT", "10000"});
  ASSERT_NE(refused, nullptr);
  ASSERT_EQ(refused->type, REDIS_REPLY_ERROR) << "a second waiter was queued";
  EXPECT_NE(std::string(refused->str).find("maxwaiters-per-key"), std::string::npos)
      << refused->str;
  ReplyPtr refused_wait = Command(extra.get(), {"WAIT", "k", "10000"});
  ASSERT_EQ(refused_wait->type, REDIS_REPLY_ERROR);
  EXPECT_NE(std::string(refused_wait->str).find("maxwaiters-per-key"), std::string::npos);

  // The queued waiter is unharmed and still served on release.
  ASSERT_EQ(Command(holder.get(), {"RELEASE", "k", "holder"})->integer, 1);
  ReplyPtr granted = GetReply(waiter.get());
  ASSERT_NE(granted, nullptr);
  EXPECT_EQ(granted->type, REDIS_REPLY_INTEGER);
}

TEST(Limits, ProtoMaxBulkLenRefusesALargerBulk) {
  auto server = LockerdProcess::Start({.args = {"--proto-max-bulk-len", "1024"}});
  RawClient fits(server->port());
  ASSERT_TRUE(fits.ok());
  const std::string small(1000, 'a');
  ASSERT_TRUE(fits.Send("*2\r\n$4\r\nECHO\r\n$1000\r\n" + small + "\r\n"));
  auto echoed = fits.ReadReply();
  ASSERT_TRUE(echoed.has_value());
  EXPECT_EQ(echoed->text, small);

  RawClient too_big(server->port());
  ASSERT_TRUE(too_big.ok());
  too_big.Send("*2\r\n$4\r\nECHO\r\n$2000\r\n" + std::string(2000, 'b') + "\r\n");
  auto refused = too_big.ReadReply();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->text, "ERR Protocol error: invalid bulk length");
  EXPECT_TRUE(too_big.WaitClosed());

  ASSERT_TRUE(fits.Send("PING\r\n"));
  auto pong = fits.ReadReply();
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->text, "PONG");
}

// Creates 300 keys, so that each KEYS * reply is about 15 KB.
void CreateKeysForBigReplies(const LockerdProcess& server) {
  std::string locks;
  for (int i = 0; i < 300; ++i) {
    locks += "LOCK some-rather-long-lock-name-for-a-big-reply:" + std::to_string(i) +
             " me 60000\r\n";
  }
  RawClient setup(server.port());
  ASSERT_TRUE(setup.Send(locks));
  ASSERT_EQ(setup.ReadReplies(300).size(), 300u);
}

// What happened while a client pipelined KEYS * without ever reading.
struct GreedyOutcome {
  bool disconnected = false;  // The server closed the greedy client.
  size_t sent_bytes = 0;
  milliseconds slowest_ping{0};  // Of the well-behaved client meanwhile.
};

// Sends KEYS * from `greedy`, which never reads, until the server closes it
// or `duration` passes; `good` sends PING after every write.
GreedyOutcome RunGreedyClient(RawClient& greedy, redisContext* good, milliseconds duration) {
  std::string batch;
  for (int i = 0; i < 512; ++i) batch += "KEYS *\r\n";
  // Far more than socket buffers hold: sending all of it means the server
  // kept reading and buffering replies it could not send.
  constexpr size_t kBytesMax = 64u << 20;
  GreedyOutcome outcome;
  const auto deadline = Clock::now() + duration;
  while (outcome.sent_bytes < kBytesMax && Clock::now() < deadline) {
    const long n = greedy.SendSome(batch, milliseconds(20));
    if (n < 0) {
      outcome.disconnected = true;
      break;
    }
    outcome.sent_bytes += static_cast<size_t>(n);
    const auto ping_start = Clock::now();
    if (!Pongs(good)) {
      ADD_FAILURE() << "the well-behaved client was not served";
      break;
    }
    outcome.slowest_ping = std::max(
        outcome.slowest_ping, std::chrono::duration_cast<milliseconds>(Clock::now() - ping_start));
  }
  return outcome;
}

// `field` (e.g. "omem") of the CLIENT LIST line of the client named `name`;
// -1 if there is no such client.
int64_t ClientListField(redisContext* client, const std::string& name, const std::string& field) {
  ReplyPtr list = Command(client, {"CLIENT", "LIST"});
  if (list == nullptr || list->type != REDIS_REPLY_STRING) return -1;
  const std::string text(list->str, list->len);
  const size_t line = text.find(" name=" + name + " ");
  if (line == std::string::npos) return -1;
  const size_t start = text.find(" " + field + "=", text.rfind('\n', line) + 1);
  if (start == std::string::npos) return -1;
  return std::stoll(text.substr(start + field.size() + 2));
}

// A blocked client is still read (so its disconnect is seen); what it
// pipelines meanwhile is bounded by client-query-buffer-limit, and past it
// the client is closed and its wait forgotten.
TEST(Limits, BlockedClientPipeliningPastTheQueryLimitIsClosed) {
  auto server = LockerdProcess::Start(
      {.args = {"--proto-max-bulk-len", "1kb", "--client-query-buffer-limit", "64kb"}});
  RedisPtr holder = server->Connect();
  ASSERT_TRUE(holder && holder->err == 0);
  ASSERT_EQ(Command(holder.get(), {"LOCK", "k", "holder", "30000"})->type, REDIS_REPLY_INTEGER);
  RawClient blocked(server->port());
  ASSERT_TRUE(blocked.Send("LOCK k blocked 30000 WAIT 0\r\n"));
  ASSERT_TRUE(WaitForInfoField(holder.get(), "blocked_clients", "1"));
  std::string pings;
  for (int i = 0; i < 20000; ++i) pings += "PING\r\n";  // 120 KB, past 64 KB.
  blocked.SendSome(pings, milliseconds(2000));
  EXPECT_TRUE(blocked.WaitClosed()) << "the blocked client was not closed";
  EXPECT_TRUE(WaitForInfoField(holder.get(), "blocked_clients", "0"));
  EXPECT_EQ(InfoField(holder.get(), "waiting_clients"), "0");
  ASSERT_EQ(Command(holder.get(), {"RELEASE", "k", "holder"})->integer, 1);
  EXPECT_EQ(Command(holder.get(), {"EXISTS", "k"})->integer, 0) << "the closed waiter got the lock";
}

// A client that pipelines KEYS * and never reads would make the server
// buffer replies without end. It must be cut off (closed, or no longer
// read, its pending replies within the hard limit) while a well-behaved
// client keeps getting prompt answers.
TEST(Limits, ClientThatNeverReadsIsCutOffAndOthersAreServed) {
  auto server = LockerdProcess::Start(
      {.args = {"--client-output-buffer-limit", "normal", "64kb", "16kb", "60"}});
  RedisPtr good = server->Connect();
  ASSERT_TRUE(good && good->err == 0);
  CreateKeysForBigReplies(*server);
  RawClient greedy(server->port());
  ASSERT_TRUE(greedy.Send("CLIENT SETNAME greedy\r\n"));
  ASSERT_TRUE(greedy.ReadReply().has_value());

  const GreedyOutcome outcome = RunGreedyClient(greedy, good.get(), milliseconds(3000));
  if (!outcome.disconnected) {
    const int64_t pending_bytes = ClientListField(good.get(), "greedy", "omem");
    EXPECT_GE(pending_bytes, 0) << "the greedy client is neither listed nor closed";
    EXPECT_LE(pending_bytes, 64 * 1024) << "replies pending past the hard limit";
    EXPECT_LT(outcome.sent_bytes, 64u << 20) << "the server kept reading the greedy client";
  } else {
    EXPECT_NE(InfoField(good.get(), "client_output_limit_disconnections"), "0");
  }
  EXPECT_LT(outcome.slowest_ping.count(), 2000) << "the well-behaved client waited too long";
  EXPECT_TRUE(server->Running()) << server->Log();
  EXPECT_TRUE(Pongs(good.get()));
}

// Above the soft limit for soft-seconds, the slow reader is closed.
TEST(Limits, ClientAboveTheSoftLimitForSoftSecondsIsClosed) {
  auto server = LockerdProcess::Start(
      {.args = {"--client-output-buffer-limit", "normal", "64kb", "16kb", "1"}});
  RedisPtr good = server->Connect();
  ASSERT_TRUE(good && good->err == 0);
  CreateKeysForBigReplies(*server);
  RawClient greedy(server->port());
  ASSERT_TRUE(greedy.ok());
  const GreedyOutcome outcome = RunGreedyClient(greedy, good.get(), milliseconds(30000));
  EXPECT_TRUE(outcome.disconnected)
      << "still connected after 30 s and " << outcome.sent_bytes << " bytes";
  EXPECT_LT(outcome.slowest_ping.count(), 2000) << "the well-behaved client waited too long";
  EXPECT_TRUE(server->Running()) << server->Log();
  EXPECT_TRUE(Pongs(good.get()));
  EXPECT_EQ(InfoField(good.get(), "client_output_limit_disconnections"), "1");
}

}  // namespace
}  // namespace lockerd::testing
