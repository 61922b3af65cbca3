// appendonly yes on the real binary, at the edges a review of it found: a
// start that fails after replaying the log, and a release whose register is
// erased before its turn's commit.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/lockerd_process.h"

namespace lockerd::testing {
namespace {

const std::vector<std::string> kAppendOnly = {"--appendonly", "yes", "--max-lease-ms", "60000",
                                              "--script-time-limit", "5000"};

// A start that loaded the log (the last run was killed) and then fails to
// listen must not lose what it loaded: it saves it as a clean stop would
// (it used to remove the running marker, the only thing that said "replay
// the log", and the next start came up empty and voted at once).
TEST(AppendOnlyEdges, AStartThatCannotListenKeepsTheLogsState) {
  auto first = LockerdProcess::Start({.args = kAppendOnly});
  {
    RedisPtr client = first->Connect();
    ASSERT_TRUE(client && client->err == 0);
    ReplyPtr token = Command(client.get(), {"LOCK", "k", "alice", "60000"});
    ASSERT_TRUE(token && token->type == REDIS_REPLY_INTEGER);
  }
  ASSERT_EQ(first->Stop(SIGKILL), 128 + SIGKILL);

  // The port the next start wants is taken (another process, a typo...).
  const int busy_port = FreePort();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(busy_port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  auto failed = LockerdProcess::Start(
      {.args = kAppendOnly, .dir = first->dir(), .port = busy_port, .wait_ready = false});
  const std::optional<int> status = failed->Stop(0, std::chrono::seconds(10));
  ::close(fd);
  ASSERT_TRUE(status.has_value());
  ASSERT_NE(*status, 0) << failed->Log();

  auto third = LockerdProcess::Start({.args = kAppendOnly, .dir = first->dir()});
  RedisPtr client = third->Connect();
  ASSERT_TRUE(client && client->err == 0);
  ReplyPtr holder = Command(client.get(), {"GET", "k"});
  ASSERT_TRUE(holder);
  EXPECT_EQ(holder->type, REDIS_REPLY_STRING) << "alice's acknowledged lock was forgotten\n"
                                              << third->Log();
  ReplyPtr intruder = Command(client.get(), {"LOCK", "k", "intruder", "60000"});
  ASSERT_TRUE(intruder);
  EXPECT_EQ(intruder->type, REDIS_REPLY_NIL) << "two holders of k: alice and intruder";
}

// A member alone keeps no tombstone: a RELEASE read in one turn's poll
// phase is erased by the next turn's timer (Tick) before that turn's
// commit. The erasure is recorded, so the log does not still say "held by
// alice" when the reply :1 has gone out.
TEST(AppendOnlyEdges, AnAcknowledgedReleaseSurvivesAKill) {
  auto first = LockerdProcess::Start({.args = kAppendOnly});
  RedisPtr alice = first->Connect();
  RedisPtr staller = first->Connect();
  ASSERT_TRUE(alice && alice->err == 0 && staller && staller->err == 0);
  ReplyPtr token = Command(alice.get(), {"LOCK", "k", "alice", "60000"});
  ASSERT_TRUE(token && token->type == REDIS_REPLY_INTEGER);
  // One packet: a script that holds the loop ~100+ ms, then a write that
  // leaves a register due at once (a RELEASE of an unknown key creates a
  // free register with no tombstone time), so that the turn ends with the
  // timer armed at 0.
  ASSERT_EQ(redisAppendCommand(staller.get(), "EVAL %s 0",
                               "local x = 0 for i = 1, 30000000 do x = x + i end return 1"),
            REDIS_OK);
  ASSERT_EQ(redisAppendCommand(staller.get(), "RELEASE nothere o"), REDIS_OK);
  for (int done = 0; !done;) ASSERT_EQ(redisBufferWrite(staller.get(), &done), REDIS_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // Arrives while the script runs: read in the poll phase after the turn
  // that armed the timer at 0.
  ReplyPtr released = Command(alice.get(), {"RELEASE", "k", "alice"});
  ASSERT_TRUE(released && released->type == REDIS_REPLY_INTEGER);
  ASSERT_EQ(released->integer, 1);
  ASSERT_TRUE(GetReply(staller.get()));
  ASSERT_TRUE(GetReply(staller.get()));
  alice.reset();
  staller.reset();
  ASSERT_EQ(first->Stop(SIGKILL), 128 + SIGKILL);

  auto second = LockerdProcess::Start({.args = kAppendOnly, .dir = first->dir()});
  RedisPtr client = second->Connect();
  ASSERT_TRUE(client && client->err == 0);
  ReplyPtr holder = Command(client.get(), {"GET", "k"});
  ASSERT_TRUE(holder);
  EXPECT_EQ(holder->type, REDIS_REPLY_NIL)
      << "the acknowledged RELEASE was lost: k is held by " << (holder->str ? holder->str : "?");
  ReplyPtr bob = Command(client.get(), {"LOCK", "k", "bob", "1000"});
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->type, REDIS_REPLY_INTEGER) << "k is free after its release";
}

}  // namespace
}  // namespace lockerd::testing
