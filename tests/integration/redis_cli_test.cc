// lockerd as redis-cli and telnet users meet it: commands on the command
// line, --pipe mass insertion, pipelined and quoted inline commands over a
// raw socket, COMMAND DOCS for redis-cli's hints, and RESP3 with -3.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/lockerd_process.h"
#include "tests/support/raw_client.h"

namespace lockerd::testing {
namespace {

// A command in RESP's array-of-bulks form, as client libraries send it.
std::string Resp(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& arg : args) {
    out += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
  }
  return out;
}

class RedisCli : public ::testing::Test {
 protected:
  void SetUp() override { server_ = LockerdProcess::Start(); }

  ProcessResult Cli(std::vector<std::string> args, const std::string& input = {}) {
    args.insert(args.begin(), {"redis-cli", "-p", std::to_string(server_->port())});
    return RunProgram(args, input);
  }

  std::unique_ptr<LockerdProcess> server_;
};

TEST_F(RedisCli, CommandLineLockPrintsAToken) {
  const ProcessResult lock = Cli({"LOCK", "k", "me", "5000"});
  ASSERT_EQ(lock.exit_code, 0) << lock.output;
  EXPECT_GT(std::stoll(lock.output), 0) << lock.output;
  const ProcessResult again = Cli({"LOCK", "k", "other", "5000"});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output, "\n") << "a null prints as an empty line in raw mode";
  const ProcessResult info = Cli({"LOCKINFO", "k"});
  EXPECT_EQ(info.output.rfind("owner\nme\ntoken\n" + std::to_string(std::stoll(lock.output)) +
                                  "\nremaining_ms\n",
                              0),
            0u)
      << info.output;
}

TEST_F(RedisCli, PipeModeRunsAThousandCommandsWithoutErrors) {
  std::string stream;
  for (int i = 0; i < 500; ++i) {
    const std::string key = "pipe:" + std::to_string(i % 50);
    stream += Resp({"LOCK", key, "owner" + std::to_string(i), "5000"});
    stream += Resp({"RELEASE", key, "owner" + std::to_string(i)});
  }
  const ProcessResult result = Cli({"--pipe"}, stream);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("errors: 0, replies: 1000"), std::string::npos) << result.output;
  RedisPtr client = server_->Connect();
  EXPECT_EQ(Command(client.get(), {"DBSIZE"})->integer, 0) << "every LOCK was released";
}

TEST_F(RedisCli, PipelinedInlineCommandsAreAnsweredInOrder) {
  std::string batch;
  constexpr int kCommands = 200;
  for (int i = 0; i < kCommands; ++i) {
    batch += "LOCK key" + std::to_string(i) + " me 5000\r\n";
    batch += "ECHO " + std::to_string(i) + "\r\n";
  }
  RawClient raw(server_->port());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send(batch));  // One write holding every command.
  const std::vector<Reply> replies = raw.ReadReplies(2 * kCommands);
  ASSERT_EQ(replies.size(), 2u * kCommands);
  for (int i = 0; i < kCommands; ++i) {
    const Reply& lock = replies[2 * static_cast<size_t>(i)];
    const Reply& echo = replies[2 * static_cast<size_t>(i) + 1];
    ASSERT_EQ(lock.type, Reply::Type::kInteger) << "command " << i << ": " << lock.text;
    EXPECT_GT(lock.integer, 0);
    ASSERT_EQ(echo.type, Reply::Type::kBulk) << "command " << i;
    ASSERT_EQ(echo.text, std::to_string(i)) << "replies out of order";
  }
}

TEST_F(RedisCli, CommandDocsGivesRedisCliItsHints) {
  const ProcessResult docs = Cli({"COMMAND", "DOCS", "lock"});
  ASSERT_EQ(docs.exit_code, 0) << docs.output;
  EXPECT_NE(docs.output.find("summary"), std::string::npos) << docs.output;
  EXPECT_NE(docs.output.find("arguments"), std::string::npos) << docs.output;
  const ProcessResult count = Cli({"COMMAND", "COUNT"});
  ASSERT_EQ(count.exit_code, 0) << count.output;
  EXPECT_GT(std::stoll(count.output), 10) << count.output;
}

TEST_F(RedisCli, InteractiveSessionFromStdin) {
  // redis-cli without a command reads commands line by line from stdin, as
  // an interactive user types them.
  const ProcessResult session = Cli({}, "LOCK k me 5000\nLOCKINFO k\nRELEASE k me\nRELEASE k me\n");
  ASSERT_EQ(session.exit_code, 0) << session.output;
  EXPECT_NE(session.output.find("owner\nme\n"), std::string::npos) << session.output;
  EXPECT_NE(session.output.find("\n1\n0\n"), std::string::npos) << session.output;
  EXPECT_EQ(session.output.find("ERR"), std::string::npos) << session.output;
}

TEST_F(RedisCli, Resp3HelloAndLockInfoMap) {
  ASSERT_EQ(Cli({"LOCK", "k", "me", "5000"}).exit_code, 0);
  const ProcessResult hello = Cli({"-3", "HELLO", "3"});
  ASSERT_EQ(hello.exit_code, 0) << hello.output;
  EXPECT_NE(hello.output.find("proto 3"), std::string::npos) << hello.output;
  // In RESP3 a map prints as "key value" lines; in RESP2 each item is a line.
  const ProcessResult map = Cli({"-3", "LOCKINFO", "k"});
  ASSERT_EQ(map.exit_code, 0) << map.output;
  EXPECT_EQ(map.output.rfind("owner me\ntoken ", 0), 0u) << map.output;
  EXPECT_NE(map.output.find("\nremaining_ms "), std::string::npos) << map.output;
  const ProcessResult flat = Cli({"LOCKINFO", "k"});
  EXPECT_EQ(flat.output.rfind("owner\nme\ntoken\n", 0), 0u) << flat.output;
}

TEST_F(RedisCli, InlineCommandsAsTelnetSendsThem) {
  RawClient raw(server_->port());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send("LOCK k me 5000\r\n"));
  auto token = raw.ReadReply();
  ASSERT_TRUE(token.has_value());
  ASSERT_EQ(token->type, Reply::Type::kInteger) << token->text;
  EXPECT_GT(token->integer, 0);

  // Quotes as in Redis: double quotes with escapes, single quotes verbatim.
  ASSERT_TRUE(raw.Send("LOCK \"my key\" 'owner with spaces' 5000\r\n"
                       "GET \"my\\x20key\"\r\n"
                       "LOCKINFO 'my key'\r\n"
                       "ping\r\n"));
  const std::vector<Reply> replies = raw.ReadReplies(4);
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[0].type, Reply::Type::kInteger) << replies[0].text;
  EXPECT_EQ(replies[1].text, "owner with spaces");
  ASSERT_EQ(replies[2].type, Reply::Type::kArray);
  ASSERT_NE(replies[2].Field("owner"), nullptr);
  EXPECT_EQ(replies[2].Field("owner")->text, "owner with spaces");
  EXPECT_EQ(replies[3].text, "PONG");

  // A bare LF ends a line too (nc, some telnets), and the connection stays up.
  ASSERT_TRUE(raw.Send("RELEASE k me\n"));
  auto released = raw.ReadReply();
  ASSERT_TRUE(released.has_value());
  EXPECT_EQ(released->integer, 1);
}

}  // namespace
}  // namespace lockerd::testing
