// Hostile and broken input over raw sockets: junk bytes, oversized bulk
// lengths, HTTP requests, commands cut off by a close, unknown commands and
// wrong arity. Each case checks the reply the bad client gets, whether its
// connection is closed, and that another client is still served.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/lockerd_process.h"
#include "tests/support/raw_client.h"

namespace lockerd::testing {
namespace {

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = LockerdProcess::Start();
    bystander_ = server_->Connect();
    ASSERT_TRUE(bystander_ && bystander_->err == 0);
  }

  // The server is alive and another client is still served.
  void ExpectOthersServed() {
    ASSERT_TRUE(server_->Running()) << "lockerd died; its log:\n" << server_->Log();
    ReplyPtr pong = Command(bystander_.get(), {"PING"});
    ASSERT_NE(pong, nullptr) << "the bystander got no reply";
    EXPECT_STREQ(pong->str, "PONG");
    RedisPtr fresh = server_->Connect();
    ASSERT_TRUE(fresh && fresh->err == 0);
    ReplyPtr fresh_pong = Command(fresh.get(), {"PING"});
    ASSERT_NE(fresh_pong, nullptr);
    EXPECT_STREQ(fresh_pong->str, "PONG");
  }

  // Sends `bytes` and expects one error reply starting with `prefix`, then
  // the server closing the connection.
  void ExpectErrorAndClose(const std::string& bytes, const std::string& prefix) {
    RawClient raw(server_->port());
    ASSERT_TRUE(raw.ok());
    raw.Send(bytes);  // The server may close before it has read everything.
    auto reply = raw.ReadReply();
    ASSERT_TRUE(reply.has_value()) << "no reply before the connection ended";
    ASSERT_TRUE(reply->IsError()) << reply->text;
    EXPECT_EQ(reply->text.rfind(prefix, 0), 0u) << reply->text;
    EXPECT_TRUE(raw.WaitClosed()) << "the server kept the connection open";
  }

  // Every connection but the bystander's is gone.
  void ExpectOnlyBystanderConnected() {
    EXPECT_TRUE(WaitForInfoField(bystander_.get(), "connected_clients", "1"))
        << "connected_clients is " << InfoField(bystander_.get(), "connected_clients");
  }

  std::unique_ptr<LockerdProcess> server_;
  RedisPtr bystander_;
};

TEST_F(BadInput, GarbageBytesGetAProtocolErrorAndClose) {
  // SPEC 4: binary junk gets "-ERR Protocol error: ..." and the connection
  // is closed after the reply.
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk.push_back(static_cast<char>((i * 131 + 7) % 256));
  ExpectErrorAndClose(std::string("\x00\x01\xff\xfe\x80garbage\r\n", 13) + junk + "\r\n",
                      "ERR Protocol error: binary data in an inline command");
  ExpectOthersServed();
  ExpectOnlyBystanderConnected();
}

TEST_F(BadInput, HugeBulkLengthIsAProtocolErrorAndCloses) {
  ExpectErrorAndClose("*1\r\n$999999999999\r\n", "ERR Protocol error: invalid bulk length");
  ExpectOthersServed();
}

TEST_F(BadInput, HugeArrayLengthIsAProtocolErrorAndCloses) {
  ExpectErrorAndClose("*999999999999\r\n", "ERR Protocol error: invalid multibulk length");
  ExpectOthersServed();
}

TEST_F(BadInput, HttpPostIsAProtocolErrorAndCloses) {
  ExpectErrorAndClose(
      "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
      "Content-Length: 14\r\n\r\nLOCK k me 5000",
      "ERR Protocol error:");
  ExpectOthersServed();
  EXPECT_EQ(Command(bystander_.get(), {"EXISTS", "k"})->integer, 0)
      << "a command smuggled in an HTTP body ran";
}

TEST_F(BadInput, HttpGetIsAProtocolErrorAndCloses) {
  ExpectErrorAndClose("GET / HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n",
                      "ERR Protocol error:");
  ExpectOthersServed();
}

TEST_F(BadInput, HalfSentCommandThenCloseRunsNothing) {
  {
    RawClient raw(server_->port());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.Send("*4\r\n$4\r\nLOCK\r\n$1\r\nk\r\n$2\r\nme\r\n$4\r\n50"));
  }  // Closed here, mid-argument.
  ExpectOnlyBystanderConnected();
  ExpectOthersServed();
  EXPECT_EQ(Command(bystander_.get(), {"EXISTS", "k"})->integer, 0);
}

TEST_F(BadInput, DeclaredMegabyteBulkCutShortThenClose) {
  {
    RawClient raw(server_->port());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.Send("*2\r\n$4\r\nECHO\r\n$1000000\r\nonly a few bytes"));
  }
  ExpectOnlyBystanderConnected();
  ExpectOthersServed();
}

TEST_F(BadInput, UnknownCommandIsAnErrorAndTheConnectionStaysOpen) {
  RawClient raw(server_->port());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send("*3\r\n$3\r\nFOO\r\n$3\r\nbar\r\n$3\r\nbaz\r\nPING\r\n"));
  const std::vector<Reply> replies = raw.ReadReplies(2);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_TRUE(replies[0].IsError());
  EXPECT_EQ(replies[0].text, "ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' ");
  EXPECT_EQ(replies[1].text, "PONG") << "the connection did not stay usable";
  EXPECT_FALSE(raw.closed_by_server());

  // Echoed client bytes are cut and lose their CR/LF.
  ASSERT_TRUE(raw.Send("*1\r\n$300\r\n" + std::string(150, 'x') + "\r\n" + std::string(148, 'y') +
                       "\r\n"));
  auto long_name = raw.ReadReply();
  ASSERT_TRUE(long_name.has_value());
  ASSERT_TRUE(long_name->IsError());
  EXPECT_EQ(long_name->text.find('\r'), std::string::npos);
  EXPECT_EQ(long_name->text.find('\n'), std::string::npos);
  EXPECT_LT(long_name->text.size(), 250u) << long_name->text;
  ExpectOthersServed();
}

TEST_F(BadInput, WrongArityIsAnErrorAndTheConnectionStaysOpen) {
  ReplyPtr lock = Command(bystander_.get(), {"LOCK", "k"});
  ASSERT_EQ(lock->type, REDIS_REPLY_ERROR);
  EXPECT_STREQ(lock->str, "ERR wrong number of arguments for 'lock' command");
  ReplyPtr release = Command(bystander_.get(), {"release"});
  ASSERT_EQ(release->type, REDIS_REPLY_ERROR);
  EXPECT_STREQ(release->str, "ERR wrong number of arguments for 'release' command");
  ReplyPtr syntax = Command(bystander_.get(), {"LOCK", "k", "me", "5000", "WAIT"});
  ASSERT_EQ(syntax->type, REDIS_REPLY_ERROR);
  ReplyPtr not_number = Command(bystander_.get(), {"LOCK", "k", "me", "soon"});
  ASSERT_EQ(not_number->type, REDIS_REPLY_ERROR);
  EXPECT_STREQ(not_number->str, "ERR value is not an integer or out of range");
  ExpectOthersServed();
  EXPECT_EQ(Command(bystander_.get(), {"EXISTS", "k"})->integer, 0);
}

}  // namespace
}  // namespace lockerd::testing
