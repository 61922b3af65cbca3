// The first thing a user does: start lockerd, take a lock with redis-cli.
#include <gtest/gtest.h>

#include "tests/support/lockerd_process.h"

namespace lockerd::testing {
namespace {

TEST(Smoke, RedisCliLockAnswersAnInteger) {
  auto server = LockerdProcess::Start();
  const ProcessResult result =
      RunProgram({"redis-cli", "-p", std::to_string(server->port()), "LOCK", "k", "me", "5000"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output.find("(integer)"), std::string::npos) << "raw mode prints only digits";
  EXPECT_GT(std::stoll(result.output), 0) << result.output;
}

TEST(Smoke, HiredisLockLifecycle) {
  auto server = LockerdProcess::Start();
  RedisPtr client = server->Connect();
  ASSERT_TRUE(client && client->err == 0);
  ReplyPtr token = Command(client.get(), {"LOCK", "k", "me", "5000"});
  ASSERT_EQ(token->type, REDIS_REPLY_INTEGER);
  ReplyPtr released = Command(client.get(), {"RELEASE", "k", "me"});
  ASSERT_EQ(released->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(released->integer, 1);
}

}  // namespace
}  // namespace lockerd::testing
