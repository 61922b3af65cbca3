// A lock's whole life as a hiredis user sees it on one lockerd: LOCK,
// LOCKINFO in RESP2 and RESP3, EXTEND, RELEASE, UPDATE, fencing tokens, the
// SET NX form, the read-only Redis commands and TTL bounds. Blocking,
// restarts and limits have their own files.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "base/errors.h"
#include "tests/support/lockerd_process.h"
#include "tests/support/raw_client.h"

namespace lockerd::testing {
namespace {

class LockLifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = LockerdProcess::Start();
    client_ = server_->Connect();
    ASSERT_TRUE(client_ && client_->err == 0);
  }

  ReplyPtr Run(const std::vector<std::string>& args) { return Command(client_.get(), args); }

  // The integer a command answered; fails the test (and returns -1) otherwise.
  int64_t Integer(const std::vector<std::string>& args) {
    ReplyPtr reply = Run(args);
    if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER) {
      ADD_FAILURE() << args[0] << " did not answer an integer"
                    << (reply && reply->str ? std::string(": ") + reply->str : std::string());
      return -1;
    }
    return reply->integer;
  }

  std::string Error(const std::vector<std::string>& args) {
    ReplyPtr reply = Run(args);
    if (reply == nullptr || reply->type != REDIS_REPLY_ERROR) return "<not an error>";
    return std::string(reply->str, reply->len);
  }

  bool IsNull(const std::vector<std::string>& args) {
    ReplyPtr reply = Run(args);
    return reply != nullptr && reply->type == REDIS_REPLY_NIL;
  }

  // Every key SCAN returns from cursor 0 until it comes back to 0.
  std::set<std::string> ScanAll(const std::vector<std::string>& options, int* calls) {
    std::set<std::string> seen;
    std::string cursor = "0";
    *calls = 0;
    do {
      std::vector<std::string> args = {"SCAN", cursor};
      args.insert(args.end(), options.begin(), options.end());
      ReplyPtr page = Run(args);
      if (page == nullptr || page->type != REDIS_REPLY_ARRAY || page->elements != 2) {
        ADD_FAILURE() << "SCAN " << cursor << " did not answer [cursor, keys]";
        break;
      }
      cursor = page->element[0]->str;
      for (size_t i = 0; i < page->element[1]->elements; ++i) {
        seen.insert(page->element[1]->element[i]->str);
      }
      if (++*calls >= 1000) {
        ADD_FAILURE() << "SCAN did not come back to cursor 0";
        break;
      }
    } while (cursor != "0");
    return seen;
  }

  std::unique_ptr<LockerdProcess> server_;
  RedisPtr client_;
};

TEST_F(LockLifecycle, LockAnswersATokenAndLockInfoIsAFlatArrayInResp2) {
  const int64_t token = Integer({"LOCK", "k", "me", "5000"});
  EXPECT_GT(token, 0);
  ReplyPtr info = Run({"LOCKINFO", "k"});
  ASSERT_EQ(info->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(info->elements, 6u);
  EXPECT_STREQ(info->element[0]->str, "owner");
  EXPECT_STREQ(info->element[1]->str, "me");
  EXPECT_STREQ(info->element[2]->str, "token");
  ASSERT_EQ(info->element[3]->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(info->element[3]->integer, token);
  EXPECT_STREQ(info->element[4]->str, "remaining_ms");
  ASSERT_EQ(info->element[5]->type, REDIS_REPLY_INTEGER);
  EXPECT_GT(info->element[5]->integer, 0);
  EXPECT_LE(info->element[5]->integer, 5000);
  EXPECT_TRUE(IsNull({"LOCKINFO", "not-held"}));
}

// hiredis 0.14 (Debian's) cannot decode RESP3, so this one reads raw bytes.
TEST_F(LockLifecycle, LockInfoIsAMapAfterHello3) {
  const int64_t token = Integer({"LOCK", "k", "me", "5000"});
  RawClient raw(server_->port());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send("HELLO 3\r\nLOCKINFO k\r\nLOCKINFO not-held\r\n"));
  const std::vector<Reply> replies = raw.ReadReplies(3);
  ASSERT_EQ(replies.size(), 3u);
  ASSERT_EQ(replies[0].type, Reply::Type::kMap);
  ASSERT_NE(replies[0].Field("proto"), nullptr);
  EXPECT_EQ(replies[0].Field("proto")->integer, 3);

  const Reply& info = replies[1];
  ASSERT_EQ(info.type, Reply::Type::kMap);
  ASSERT_EQ(info.elements.size(), 6u);  // Key, value, key, value.
  ASSERT_NE(info.Field("owner"), nullptr);
  EXPECT_EQ(info.Field("owner")->text, "me");
  ASSERT_NE(info.Field("token"), nullptr);
  EXPECT_EQ(info.Field("token")->type, Reply::Type::kInteger);
  EXPECT_EQ(info.Field("token")->integer, token);
  ASSERT_NE(info.Field("remaining_ms"), nullptr);
  EXPECT_GT(info.Field("remaining_ms")->integer, 0);
  EXPECT_LE(info.Field("remaining_ms")->integer, 5000);
  EXPECT_TRUE(replies[2].IsNull());
}

TEST_F(LockLifecycle, ExtendKeepsTheTokenAndLengthensTheLease) {
  const int64_t token = Integer({"LOCK", "k", "me", "1000"});
  EXPECT_LE(Integer({"PTTL", "k"}), 1000);
  EXPECT_EQ(Integer({"EXTEND", "k", "me", "30000"}), token);
  EXPECT_GT(Integer({"PTTL", "k"}), 1000);
  EXPECT_TRUE(IsNull({"EXTEND", "k", "someone-else", "30000"}));
  EXPECT_TRUE(IsNull({"EXTEND", "never-held", "me", "30000"}));
}

TEST_F(LockLifecycle, ReleaseAnswersOneThenZero) {
  Integer({"LOCK", "k", "me", "5000"});
  EXPECT_EQ(Integer({"RELEASE", "k", "someone-else"}), 0);
  EXPECT_EQ(Integer({"RELEASE", "k", "me"}), 1);
  EXPECT_EQ(Integer({"RELEASE", "k", "me"}), 0);
  EXPECT_TRUE(IsNull({"LOCKINFO", "k"}));
}

TEST_F(LockLifecycle, LockBySameOwnerWhileHeldIsIdempotentAndResetsTtl) {
  const int64_t token = Integer({"LOCK", "k", "me", "1000"});
  EXPECT_EQ(Integer({"LOCK", "k", "me", "30000"}), token);
  EXPECT_GT(Integer({"PTTL", "k"}), 1000);
  EXPECT_TRUE(IsNull({"LOCK", "k", "other", "30000"}));
}

TEST_F(LockLifecycle, EveryNewAcquireGetsALargerToken) {
  int64_t previous = 0;
  for (int i = 0; i < 5; ++i) {
    const int64_t token = Integer({"LOCK", "k", "owner" + std::to_string(i), "5000"});
    EXPECT_GT(token, previous) << "acquire " << i;
    previous = token;
    EXPECT_EQ(Integer({"RELEASE", "k", "owner" + std::to_string(i)}), 1);
  }
}

TEST_F(LockLifecycle, UpdateHandsTheLeaseToANewOwnerWithTheSameToken) {
  const int64_t token = Integer({"LOCK", "k", "old", "5000"});
  EXPECT_EQ(Integer({"UPDATE", "k", "old", "new"}), token);
  ReplyPtr owner = Run({"GET", "k"});
  ASSERT_EQ(owner->type, REDIS_REPLY_STRING);
  EXPECT_STREQ(owner->str, "new");
  EXPECT_EQ(Integer({"RELEASE", "k", "old"}), 0);
  EXPECT_TRUE(IsNull({"UPDATE", "k", "old", "third"}));
  EXPECT_EQ(Integer({"RELEASE", "k", "new"}), 1);
}

TEST_F(LockLifecycle, SetNxPxIsALockAndSetWithoutATtlIsRefused) {
  ReplyPtr ok = Run({"SET", "k", "v", "NX", "PX", "100"});
  ASSERT_EQ(ok->type, REDIS_REPLY_STATUS);
  EXPECT_STREQ(ok->str, "OK");
  EXPECT_TRUE(IsNull({"SET", "k", "other", "NX", "PX", "100"}));
  ReplyPtr seconds = Run({"SET", "k2", "v", "NX", "EX", "5"});
  ASSERT_EQ(seconds->type, REDIS_REPLY_STATUS);
  EXPECT_GT(Integer({"PTTL", "k2"}), 1000);

  const std::string form(server::errors::kSetForm);
  EXPECT_EQ(Error({"SET", "k3", "v"}), form);
  EXPECT_EQ(Error({"SET", "k3", "v", "NX"}), form);
  EXPECT_EQ(Error({"SET", "k3", "v", "NX", "PXAT", "100"}), form);
  EXPECT_TRUE(IsNull({"SET", "k3", "v", "XX", "PX", "100"}));
  EXPECT_EQ(Error({"SET", "k3", "v", "NX", "KEEPTTL"}),
            "ERR keys here are leases: SET KEEPTTL needs a held key, use PX or EX");
  EXPECT_EQ(Integer({"EXISTS", "k3"}), 0) << "a refused SET must not take the lock";
}

TEST_F(LockLifecycle, RedisReadCommandsDescribeTheLeases) {
  Integer({"LOCK", "alpha", "a", "30000"});
  Integer({"LOCK", "beta", "b", "30000"});
  EXPECT_EQ(Integer({"DBSIZE"}), 2);
  EXPECT_EQ(Integer({"EXISTS", "alpha", "beta", "gamma"}), 2);
  ReplyPtr owner = Run({"GET", "alpha"});
  ASSERT_EQ(owner->type, REDIS_REPLY_STRING);
  EXPECT_STREQ(owner->str, "a");
  EXPECT_TRUE(IsNull({"GET", "gamma"}));
  const int64_t ttl_s = Integer({"TTL", "alpha"});
  EXPECT_GE(ttl_s, 28);
  EXPECT_LE(ttl_s, 30);
  const int64_t pttl_ms = Integer({"PTTL", "alpha"});
  EXPECT_GT(pttl_ms, 28000);
  EXPECT_LE(pttl_ms, 30000);
  EXPECT_EQ(Integer({"PTTL", "gamma"}), -2);
  EXPECT_EQ(Integer({"TTL", "gamma"}), -2);
  ReplyPtr type = Run({"TYPE", "alpha"});
  EXPECT_STREQ(type->str, "string");
  ReplyPtr none = Run({"TYPE", "gamma"});
  EXPECT_STREQ(none->str, "none");

  ReplyPtr keys = Run({"KEYS", "a*"});
  ASSERT_EQ(keys->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(keys->elements, 1u);
  EXPECT_STREQ(keys->element[0]->str, "alpha");
  ReplyPtr all = Run({"KEYS", "*"});
  EXPECT_EQ(all->elements, 2u);

  EXPECT_EQ(Integer({"DEL", "alpha", "gamma"}), 1);
  EXPECT_EQ(Integer({"EXISTS", "alpha"}), 0);
  EXPECT_EQ(Integer({"DBSIZE"}), 1);
  // DEL is a forced release: anyone may lock the key again.
  EXPECT_GT(Integer({"LOCK", "alpha", "someone", "5000"}), 0);
}

TEST_F(LockLifecycle, ScanWithSmallCountVisitsEveryKey) {
  std::set<std::string> expected;
  std::set<std::string> expected_matching;
  for (int i = 0; i < 57; ++i) {
    const std::string key = "key:" + std::to_string(i);
    expected.insert(key);
    if (key.rfind("key:1", 0) == 0) expected_matching.insert(key);
    ASSERT_GT(Integer({"LOCK", key, "me", "30000"}), 0);
  }
  int calls = 0;
  EXPECT_EQ(ScanAll({"COUNT", "3"}, &calls), expected);
  EXPECT_GT(calls, 1) << "COUNT 3 should need several calls for 57 keys";
  EXPECT_EQ(ScanAll({"MATCH", "key:1*", "COUNT", "5"}, &calls), expected_matching);
}

TEST_F(LockLifecycle, TtlOutsideOneToMaxLeaseIsRefused) {
  EXPECT_EQ(Error({"LOCK", "k", "me", "0"}), "ERR ttl must be between 1 and 60000 (max-lease-ms)");
  EXPECT_EQ(Error({"LOCK", "k", "me", "60001"}), "ERR ttl must be between 1 and 60000 (max-lease-ms)");
  EXPECT_EQ(Error({"LOCK", "k", "me", "-5"}), "ERR ttl must be between 1 and 60000 (max-lease-ms)");
  EXPECT_EQ(Integer({"EXISTS", "k"}), 0);
  Integer({"LOCK", "k", "me", "60000"});
  EXPECT_EQ(Error({"EXTEND", "k", "me", "0"}), "ERR ttl must be between 1 and 60000 (max-lease-ms)");
}

TEST(LockLifecycleSettings, MaxLeaseMsSetsTheTtlBound) {
  auto server = LockerdProcess::Start({.args = {"--max-lease-ms", "1000"}});
  RedisPtr client = server->Connect();
  ASSERT_TRUE(client && client->err == 0);
  ReplyPtr refused = Command(client.get(), {"LOCK", "k", "me", "1001"});
  ASSERT_EQ(refused->type, REDIS_REPLY_ERROR);
  EXPECT_STREQ(refused->str, "ERR ttl must be between 1 and 1000 (max-lease-ms)");
  ReplyPtr granted = Command(client.get(), {"LOCK", "k", "me", "1000"});
  EXPECT_EQ(granted->type, REDIS_REPLY_INTEGER);
}

}  // namespace
}  // namespace lockerd::testing
