// Every bound has a name, a default and an error: key and owner length,
// maxkeys, KEYS pattern and reply size, client names.
#include <gtest/gtest.h>

#include "base/errors.h"
#include "tests/server/engine/engine_fixture.h"

namespace lockerd::server {
namespace {

using testing::Reply;

class LimitsTest : public EngineTest {
 protected:
  LimitsTest() : EngineTest(Small()) {}
  static Config Small() {
    Config config;
    config.max_key_bytes = 8;
    config.maxkeys = 3;
    config.output_limit.hard_bytes = 200;
    return config;
  }
};

TEST_F(LimitsTest, KeysAndOwnersAreBounded) {
  Client& a = NewClient();
  const std::string error = errors::KeyTooLong(8);
  EXPECT_EQ(One(a, {"LOCK", "123456789", "me", "100"}).text, error);
  EXPECT_EQ(One(a, {"LOCK", "k", "123456789", "100"}).text, error);
  EXPECT_EQ(One(a, {"SET", "k", "123456789", "NX", "PX", "100"}).text, error);
  EXPECT_EQ(One(a, {"LOCK", "12345678", "12345678", "100"}).type, Reply::Type::kInteger);
  EXPECT_EQ(One(a, {"UPDATE", "12345678", "12345678", "123456789"}).text, error);
  EXPECT_EQ(One(a, {"DEL", "k", "123456789"}).text, error);
  EXPECT_EQ(One(a, {"GET", "12345678"}).text, "12345678");
  EXPECT_EQ(a.blocked, BlockKind::kNone) << "a refused write does not block";
}

TEST_F(LimitsTest, MaxKeysRefusesNewLeasesWithOom) {
  Client& a = NewClient();
  for (const char* key : {"a", "b", "c"}) {
    EXPECT_EQ(One(a, {"LOCK", key, "me", "1000"}).type, Reply::Type::kInteger);
  }
  EXPECT_EQ(One(a, {"LOCK", "d", "me", "1000"}).text, errors::MaxKeys(3));
  EXPECT_EQ(One(a, {"LOCK", "a", "me", "2000"}).type, Reply::Type::kInteger)
      << "renewing a held lease is not a new key";
  EXPECT_TRUE(One(a, {"LOCK", "a", "you", "2000"}).IsNull());
  One(a, {"RELEASE", "c", "me"});
  EXPECT_EQ(One(a, {"LOCK", "d", "me", "1000"}).type, Reply::Type::kInteger);
}

TEST_F(LimitsTest, KeysRefusesAReplyTheClientCouldNotReceive) {
  Client& a = NewClient();
  EXPECT_EQ(One(a, {"KEYS", std::string(257, '*')}).text, errors::kPatternTooLong);
  EXPECT_EQ(One(a, {"SCAN", "0", "MATCH", std::string(257, '*')}).text, errors::kPatternTooLong);
  for (const char* key : {"aaaaaaaa", "bbbbbbbb", "cccccccc"}) One(a, {"LOCK", key, "me", "1000"});
  EXPECT_EQ(One(a, {"KEYS", "*"}).elements.size(), 3u);
  Config tiny = Small();
  tiny.output_limit.hard_bytes = 40;
  Engine engine(LockerdCommands(), tiny, now_);
  Client b(engine.NextClientId(), "b", "l", 0);
  engine.AddClient(&b);
  for (const char* key : {"aaaaaaaa", "bbbbbbbb", "cccccccc"}) {
    engine.Execute(b, std::vector<std::string>{"LOCK", key, "me", "1000"}, now_);
  }
  b.reply().clear();
  engine.Execute(b, std::vector<std::string>{"KEYS", "*"}, now_);
  EXPECT_EQ(testing::ParseReplies(b.reply()).at(0).text, errors::kKeysReplyTooBig);
  engine.RemoveClient(&b);
}

TEST_F(EngineTest, ClientNamesAreBoundedEverywhere) {
  Client& a = NewClient();
  const std::string long_name(kClientNameBytesMax + 1, 'n');
  EXPECT_EQ(One(a, {"CLIENT", "SETNAME", long_name}).text, errors::kClientName);
  EXPECT_EQ(One(a, {"HELLO", "3", "SETNAME", long_name}).text, errors::kClientName);
  EXPECT_TRUE(One(a, {"CLIENT", "GETNAME"}).IsNull());
}

TEST_F(EngineTest, ClientKillCountsEachClientOnce) {
  Client& a = NewClient();
  Client& b = NewClient();
  EXPECT_EQ(One(a, {"CLIENT", "KILL", "ID", std::to_string(b.id())}).integer, 1);
  EXPECT_EQ(One(a, {"CLIENT", "KILL", "MAXAGE", "0"}).integer, 0) << "b is already being killed";
}

}  // namespace
}  // namespace lockerd::server
