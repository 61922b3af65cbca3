// AUTH with --requirepass as Redis clients use it: NOAUTH before AUTH,
// WRONGPASS for a bad password, AUTH with and without the "default" user,
// HELLO 3 AUTH, RESET dropping authentication, and AUTH on a server with no
// password. Exact texts are Redis's, because client libraries match on them.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/lockerd_process.h"
#include "tests/support/raw_client.h"

namespace lockerd::testing {
namespace {

constexpr char kNoAuth[] = "NOAUTH Authentication required.";

class Auth : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = LockerdProcess::Start({.args = {"--requirepass", "secret"}});
    client_ = server_->Connect();
    ASSERT_TRUE(client_ && client_->err == 0);
  }

  ReplyPtr Run(const std::vector<std::string>& args) { return Command(client_.get(), args); }

  std::unique_ptr<LockerdProcess> server_;
  RedisPtr client_;
};

TEST_F(Auth, CommandsBeforeAuthAreRefusedWithNoAuth) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"LOCK", "k", "me", "5000"},
                                             {"GET", "k"},
                                             {"KEYS", "*"},
                                             {"INFO"},
                                             {"RELEASE", "k", "me"}}) {
    ReplyPtr reply = Run(args);
    ASSERT_NE(reply, nullptr);
    ASSERT_EQ(reply->type, REDIS_REPLY_ERROR) << args[0];
    EXPECT_STREQ(reply->str, kNoAuth) << args[0];
  }
  // Nothing was locked by the refused LOCK.
  ASSERT_EQ(Run({"AUTH", "secret"})->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(Run({"EXISTS", "k"})->integer, 0);
}

TEST_F(Auth, WrongPasswordIsRefusedWithWrongPass) {
  ReplyPtr wrong = Run({"AUTH", "not-the-secret"});
  ASSERT_EQ(wrong->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(std::string(wrong->str).rfind("WRONGPASS ", 0), 0u) << wrong->str;
  ReplyPtr wrong_user = Run({"AUTH", "someone", "secret"});
  ASSERT_EQ(wrong_user->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(std::string(wrong_user->str).rfind("WRONGPASS ", 0), 0u) << wrong_user->str;
  ReplyPtr still_refused = Run({"LOCK", "k", "me", "5000"});
  EXPECT_STREQ(still_refused->str, kNoAuth);
}

TEST_F(Auth, AuthWithThePasswordLetsLockWork) {
  ReplyPtr ok = Run({"AUTH", "secret"});
  ASSERT_EQ(ok->type, REDIS_REPLY_STATUS);
  EXPECT_STREQ(ok->str, "OK");
  ReplyPtr token = Run({"LOCK", "k", "me", "5000"});
  ASSERT_EQ(token->type, REDIS_REPLY_INTEGER);
  EXPECT_GT(token->integer, 0);
  // Authentication belongs to the connection: a new one starts without it.
  RedisPtr other = server_->Connect();
  EXPECT_STREQ(Command(other.get(), {"GET", "k"})->str, kNoAuth);
}

TEST_F(Auth, AuthWithTheDefaultUserWorks) {
  ReplyPtr ok = Run({"AUTH", "default", "secret"});
  ASSERT_EQ(ok->type, REDIS_REPLY_STATUS);
  EXPECT_STREQ(ok->str, "OK");
  EXPECT_EQ(Run({"LOCK", "k", "me", "5000"})->type, REDIS_REPLY_INTEGER);
}

// hiredis 0.14 cannot decode RESP3, so HELLO 3 is checked on raw bytes.
TEST_F(Auth, Hello3WithAuthAuthenticatesAndSwitchesProtocol) {
  RawClient raw(server_->port());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send("HELLO 3\r\n"));
  auto refused = raw.ReadReply();
  ASSERT_TRUE(refused.has_value());
  ASSERT_TRUE(refused->IsError());
  EXPECT_EQ(refused->text.rfind("NOAUTH", 0), 0u) << refused->text;

  ASSERT_TRUE(raw.Send("HELLO 3 AUTH default secret\r\nLOCK k me 5000\r\nLOCKINFO k\r\n"));
  const std::vector<Reply> replies = raw.ReadReplies(3);
  ASSERT_EQ(replies.size(), 3u);
  ASSERT_EQ(replies[0].type, Reply::Type::kMap) << replies[0].text;
  ASSERT_NE(replies[0].Field("proto"), nullptr);
  EXPECT_EQ(replies[0].Field("proto")->integer, 3);
  EXPECT_EQ(replies[1].type, Reply::Type::kInteger) << replies[1].text;
  EXPECT_EQ(replies[2].type, Reply::Type::kMap);

  ASSERT_TRUE(raw.Send("HELLO 3 AUTH default wrong\r\n"));
  auto wrong = raw.ReadReply();
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->text.rfind("WRONGPASS ", 0), 0u) << wrong->text;
}

TEST_F(Auth, ResetReturnsToUnauthenticated) {
  ASSERT_EQ(Run({"AUTH", "secret"})->type, REDIS_REPLY_STATUS);
  ASSERT_EQ(Run({"LOCK", "k", "me", "5000"})->type, REDIS_REPLY_INTEGER);
  ReplyPtr reset = Run({"RESET"});
  ASSERT_EQ(reset->type, REDIS_REPLY_STATUS);
  EXPECT_STREQ(reset->str, "RESET");
  ReplyPtr refused = Run({"GET", "k"});
  ASSERT_EQ(refused->type, REDIS_REPLY_ERROR);
  EXPECT_STREQ(refused->str, kNoAuth);
}

TEST_F(Auth, RedisCliWithPasswordWorks) {
  const ProcessResult refused =
      RunProgram({"redis-cli", "-p", std::to_string(server_->port()), "LOCK", "k", "me", "5000"});
  EXPECT_NE(refused.output.find("NOAUTH"), std::string::npos) << refused.output;
  const ProcessResult lock =
      RunProgram({"redis-cli", "-p", std::to_string(server_->port()), "--no-auth-warning", "-a",
                  "secret", "LOCK", "k", "me", "5000"});
  ASSERT_EQ(lock.exit_code, 0) << lock.output;
  EXPECT_GT(std::stoll(lock.output), 0) << lock.output;
}

TEST(AuthWithoutPassword, AuthSaysNoPasswordIsConfigured) {
  auto server = LockerdProcess::Start();
  RedisPtr client = server->Connect();
  ASSERT_TRUE(client && client->err == 0);
  ReplyPtr reply = Command(client.get(), {"AUTH", "x"});
  ASSERT_EQ(reply->type, REDIS_REPLY_ERROR);
  EXPECT_STREQ(reply->str,
               "ERR AUTH <password> called without any password configured for the default "
               "user. Are you sure your configuration is correct?");
  // Commands work without AUTH on such a server.
  EXPECT_EQ(Command(client.get(), {"LOCK", "k", "me", "5000"})->type, REDIS_REPLY_INTEGER);
}

}  // namespace
}  // namespace lockerd::testing
