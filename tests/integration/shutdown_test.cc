// Stopping lockerd the way service managers and terminals do: SIGTERM and
// SIGINT both save the leases, log that they did, and exit 0; a restart on
// the same dir finds the lease.
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>
#include <string>

#include "tests/support/lockerd_process.h"

namespace lockerd::testing {
namespace {

class Shutdown : public ::testing::TestWithParam<int> {};

TEST_P(Shutdown, SavesLeasesLogsAndExitsZero) {
  const int signal_number = GetParam();
  auto server = LockerdProcess::Start();
  int64_t token = 0;
  {
    RedisPtr client = server->Connect();
    ASSERT_TRUE(client && client->err == 0);
    ReplyPtr lock = Command(client.get(), {"LOCK", "k", "me", "30000"});
    ASSERT_EQ(lock->type, REDIS_REPLY_INTEGER);
    token = lock->integer;
  }
  // A connected client must not hold the shutdown up.
  RedisPtr idle = server->Connect();
  ASSERT_TRUE(idle && idle->err == 0);

  EXPECT_EQ(server->Stop(signal_number), 0) << server->Log();
  EXPECT_FALSE(server->Running());
  const std::string log = server->Log();
  EXPECT_TRUE(std::regex_search(log, std::regex("sav(ed|ing) 1 leases?")))
      << "the log does not say the lease was saved:\n" << log;

  // The first server object keeps (and later removes) the dir.
  auto restarted = LockerdProcess::Start({.dir = server->dir()});
  RedisPtr client = restarted->Connect();
  ASSERT_TRUE(client && client->err == 0);
  ReplyPtr owner = Command(client.get(), {"GET", "k"});
  ASSERT_EQ(owner->type, REDIS_REPLY_STRING) << "the lease was lost";
  EXPECT_STREQ(owner->str, "me");
  EXPECT_EQ(Command(client.get(), {"EXTEND", "k", "me", "5000"})->integer, token);
}

std::string SignalName(const ::testing::TestParamInfo<int>& param_info) {
  return param_info.param == SIGTERM ? "Sigterm" : "Sigint";
}

INSTANTIATE_TEST_SUITE_P(Signals, Shutdown, ::testing::Values(SIGTERM, SIGINT), SignalName);

}  // namespace
}  // namespace lockerd::testing
