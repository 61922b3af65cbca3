// Scripts through the engine (EVAL, EVALSHA, their _RO forms, SCRIPT) and
// the native commands added with them (DELIFEQ, DELEX, SET ... IFEQ), with
// in-memory clients and a fake clock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "cluster/lease_math.h"
#include "base/errors.h"
#include "server/script/sha1.h"
#include "tests/server/engine/engine_fixture.h"

namespace lockerd::server {
namespace {

// PTTL, TTL and LOCKINFO report what the holder may count on: the time
// left, less the drift allowance (1%) and δ (cluster/lease_math.h).
int64_t Reported(int64_t remaining_ms) { return cluster::ReportedRemainingMs(remaining_ms, 0.01); }

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::Reply;

// redis-py's Lock.release script (LUA_RELEASE_SCRIPT).
constexpr const char* kReleaseScript =
    "if redis.call(\"get\",KEYS[1]) == ARGV[1] then return redis.call(\"del\",KEYS[1]) else return 0 end";

// redis-py's Lock.extend script (LUA_EXTEND_SCRIPT).
constexpr const char* kExtendScript =
    "local token = redis.call('get', KEYS[1])\n"
    "if not token or token ~= ARGV[1] then\n"
    "    return 0\n"
    "end\n"
    "local expiration = redis.call('pttl', KEYS[1])\n"
    "if not expiration then\n"
    "    expiration = 0\n"
    "end\n"
    "if expiration < 0 then\n"
    "    return 0\n"
    "end\n"
    "local newttl = ARGV[2]\n"
    "if ARGV[3] == \"0\" then\n"
    "    newttl = ARGV[2] + expiration\n"
    "end\n"
    "redis.call('pexpire', KEYS[1], newttl)\n"
    "return 1\n";

// --- EVAL and EVALSHA ------------------------------------------------------

TEST_F(EngineTest, EvalRepliesAsRedis) {
  Client& a = NewClient();
  EXPECT_EQ(One(a, {"EVAL", "return 1", "0"}).integer, 1);
  EXPECT_EQ(One(a, {"eval", "return 'x'", "0"}).text, "x");
  EXPECT_TRUE(One(a, {"EVAL", "return false", "0"}).IsNull());
  const Reply status = One(a, {"EVAL", "return {ok = 'FINE'}", "0"});
  EXPECT_EQ(status.type, Reply::Type::kSimple);
  EXPECT_EQ(status.text, "FINE");
  const Reply error = One(a, {"EVAL", "return redis.error_reply('MYERR went wrong')", "0"});
  EXPECT_TRUE(error.IsError());
  EXPECT_EQ(error.text, "MYERR went wrong");
  const Reply array = One(a, {"EVAL", "return {1, 'two', {3}, false, 5}", "0"});
  ASSERT_EQ(array.type, Reply::Type::kArray);
  ASSERT_EQ(array.elements.size(), 5u);
  EXPECT_EQ(array.elements[1].text, "two");
  EXPECT_EQ(array.elements[2].elements[0].integer, 3);
  EXPECT_TRUE(array.elements[3].IsNull());
  const Reply args = One(a, {"EVAL", "return {KEYS[1], ARGV[1], ARGV[2]}", "1", "k", "a1", "a2"});
  ASSERT_EQ(args.elements.size(), 3u);
  EXPECT_EQ(args.elements[0].text, "k");
  EXPECT_EQ(args.elements[2].text, "a2");
  EXPECT_EQ(One(a, {"EVAL", "return redis.call('ping')", "0"}).text, "PONG");
  EXPECT_THAT(One(a, {"EVAL", "return +", "0"}).text, StartsWith("ERR Error compiling script"));
  EXPECT_EQ(One(a, {"EVAL", "return 1"}).text, errors::WrongArity("eval"));
  EXPECT_EQ(One(a, {"PING"}).text, "PONG") << "the connection is fine afterwards";
}

TEST_F(EngineTest, EvalTakesALockThroughTheCluster) {
  Client& a = NewClient();
  const Reply set = One(a, {"EVAL", "return redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])",
                            "1", "k", "me", "5000"});
  EXPECT_EQ(set.type, Reply::Type::kSimple);
  EXPECT_EQ(set.text, "OK");
  EXPECT_EQ(One(a, {"GET", "k"}).text, "me");
  EXPECT_EQ(One(a, {"PTTL", "k"}).integer, Reported(5000));
  const int64_t token = One(a, {"LOCKINFO", "k"}).Field("token")->integer;
  EXPECT_GE(token, kWallMs * 1000) << "the wall-clock token floor";
  EXPECT_EQ(One(a, {"LOCK", "k", "me", "5000"}).integer, token) << "the native LOCK sees the same lease";
  EXPECT_TRUE(One(a, {"LOCK", "k", "other", "5000"}).IsNull());
  // A script's LOCK: the same token rules.
  const Reply relock = One(a, {"EVAL", "return redis.call('lock', KEYS[1], ARGV[1], 1000)", "1", "k", "me"});
  EXPECT_EQ(relock.integer, token);
  const Reply other = One(a, {"EVAL", "return redis.call('lock', KEYS[1], ARGV[1], 1000)", "1", "j", "me"});
  EXPECT_GT(other.integer, token) << "tokens grow across keys";
}

TEST_F(EngineTest, EvalOverSeveralKeysIsAllOrNothing) {
  Client& a = NewClient();
  const char* body =
      "if redis.call('exists', KEYS[1], KEYS[2]) == 0 then "
      "  redis.call('set', KEYS[1], ARGV[1], 'PX', 1000) "
      "  redis.call('set', KEYS[2], ARGV[1], 'PX', 1000) "
      "  return 1 "
      "end return 0";
  EXPECT_EQ(One(a, {"EVAL", body, "2", "a", "b", "me"}).integer, 1);
  EXPECT_EQ(One(a, {"GET", "a"}).text, "me");
  EXPECT_EQ(One(a, {"GET", "b"}).text, "me");
  EXPECT_LT(One(a, {"LOCKINFO", "a"}).Field("token")->integer,
            One(a, {"LOCKINFO", "b"}).Field("token")->integer);
  EXPECT_EQ(One(a, {"EVAL", body, "2", "a", "b", "you"}).integer, 0);
  EXPECT_EQ(One(a, {"GET", "a"}).text, "me");
  EXPECT_EQ(One(a, {"EVAL", "return #KEYS", "2", "k", "k"}).integer, 2) << "KEYS as given";
}

TEST_F(EngineTest, EvalShaRunsLoadedScripts) {
  Client& a = NewClient();
  const std::string body = "return ARGV[1] .. '!'";
  const Reply loaded = One(a, {"SCRIPT", "LOAD", body});
  ASSERT_EQ(loaded.type, Reply::Type::kBulk);
  EXPECT_EQ(loaded.text, script::Sha1Hex(body));
  EXPECT_EQ(One(a, {"EVALSHA", loaded.text, "0", "hi"}).text, "hi!");
  std::string upper = loaded.text;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(One(a, {"evalsha", upper, "0", "HI"}).text, "HI!") << "the name is case-insensitive";
  // EVAL caches too.
  EXPECT_EQ(One(a, {"EVAL", "return 1", "0"}).integer, 1);
  EXPECT_EQ(One(a, {"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"}).integer, 1);
  EXPECT_THAT(One(a, {"SCRIPT", "LOAD", "return +"}).text, StartsWith("ERR Error compiling script"));
}

TEST_F(EngineTest, EvalShaOfAnUnknownScriptIsNoScript) {
  Client& a = NewClient();
  for (const char* sha : {"ffffffffffffffffffffffffffffffffffffffff", "nope", ""}) {
    const Reply reply = One(a, {"EVALSHA", sha, "0"});
    EXPECT_TRUE(reply.IsError()) << sha;
    EXPECT_EQ(reply.text, errors::kNoScript) << sha;
    EXPECT_THAT(reply.text, StartsWith("NOSCRIPT")) << sha;
  }
  EXPECT_EQ(One(a, {"EVALSHA_RO", "ffffffffffffffffffffffffffffffffffffffff", "0"}).text, errors::kNoScript);
}

TEST_F(EngineTest, ScriptExistsAndFlush) {
  Client& a = NewClient();
  const std::string one = One(a, {"SCRIPT", "LOAD", "return 1"}).text;
  const std::string two = One(a, {"SCRIPT", "LOAD", "return 2"}).text;
  const Reply exists = One(a, {"SCRIPT", "EXISTS", one, "ffffffffffffffffffffffffffffffffffffffff", two});
  ASSERT_EQ(exists.type, Reply::Type::kArray);
  ASSERT_EQ(exists.elements.size(), 3u);
  EXPECT_EQ(exists.elements[0].integer, 1);
  EXPECT_EQ(exists.elements[1].integer, 0);
  EXPECT_EQ(exists.elements[2].integer, 1);
  EXPECT_EQ(One(a, {"SCRIPT", "FLUSH"}).text, "OK");
  const Reply after = One(a, {"script", "exists", one, two});
  EXPECT_EQ(after.elements[0].integer, 0);
  EXPECT_EQ(after.elements[1].integer, 0);
  EXPECT_EQ(One(a, {"EVALSHA", one, "0"}).text, errors::kNoScript);
  EXPECT_EQ(One(a, {"SCRIPT", "LOAD", "return 1"}).text, one);
  EXPECT_EQ(One(a, {"SCRIPT", "FLUSH", "ASYNC"}).text, "OK");
  EXPECT_EQ(One(a, {"SCRIPT", "FLUSH", "sync"}).text, "OK");
  EXPECT_TRUE(One(a, {"SCRIPT", "FLUSH", "LATER"}).IsError());
  EXPECT_TRUE(One(a, {"SCRIPT", "EXISTS"}).IsError()) << "needs at least one sha";
}

TEST_F(EngineTest, ScriptHelpAndKill) {
  Client& a = NewClient();
  const Reply help = One(a, {"SCRIPT", "HELP"});
  ASSERT_EQ(help.type, Reply::Type::kArray);
  ASSERT_FALSE(help.elements.empty());
  EXPECT_THAT(help.elements[0].text, StartsWith("SCRIPT <subcommand>"));
  bool mentions_load = false;
  for (const Reply& line : help.elements) mentions_load = mentions_load || line.text.starts_with("LOAD");
  EXPECT_TRUE(mentions_load);
  const Reply kill = One(a, {"SCRIPT", "KILL"});
  EXPECT_TRUE(kill.IsError());
  EXPECT_EQ(kill.text, "NOTBUSY No scripts in execution right now.");
  EXPECT_TRUE(One(a, {"SCRIPT", "BOGUS"}).IsError());
}

TEST_F(EngineTest, NumKeysErrors) {
  Client& a = NewClient();
  EXPECT_EQ(One(a, {"EVAL", "return 1", "-1"}).text, "ERR Number of keys can't be negative");
  EXPECT_EQ(One(a, {"EVAL", "return 1", "2", "k"}).text,
            "ERR Number of keys can't be greater than number of args");
  EXPECT_EQ(One(a, {"EVAL", "return 1", "x"}).text, errors::kNotInteger);
  EXPECT_EQ(One(a, {"EVAL", "return 1", "1.5", "k"}).text, errors::kNotInteger);
  EXPECT_EQ(One(a, {"EVAL", "return 1", "99999999999999999999"}).text, errors::kNotInteger);
  EXPECT_EQ(One(a, {"EVAL_RO", "return 1", "-1"}).text, "ERR Number of keys can't be negative");
  const std::string sha = One(a, {"SCRIPT", "LOAD", "return 1"}).text;
  EXPECT_EQ(One(a, {"EVALSHA", sha, "3", "k"}).text,
            "ERR Number of keys can't be greater than number of args");
  EXPECT_EQ(One(a, {"EVAL", "return #ARGV", "1", "k"}).integer, 0);
  EXPECT_EQ(One(a, {"DBSIZE"}).integer, 0);
}

TEST_F(EngineTest, KeysLongerThanMaxKeyBytesAreRefused) {
  Client& a = NewClient();
  const std::string key(5000, 'k');
  EXPECT_EQ(One(a, {"EVAL", "return 1", "1", key}).text, errors::KeyTooLong(4096));
}

TEST_F(EngineTest, ScriptsReachOnlyTheirDeclaredKeys) {
  Client& a = NewClient();
  One(a, {"LOCK", "other", "me", "5000"});
  EXPECT_THAT(One(a, {"EVAL", "return redis.call('get', 'other')", "0"}).text, HasSubstr("not in its KEYS"));
  EXPECT_THAT(One(a, {"EVAL", "return redis.call('del', 'other')", "1", "k"}).text,
              HasSubstr("not in its KEYS"));
  EXPECT_EQ(One(a, {"GET", "other"}).text, "me");
  EXPECT_THAT(One(a, {"EVAL", "return redis.call('flushall')", "0"}).text,
              HasSubstr("Unknown Redis command called from script"));
}

TEST_F(EngineTest, ScriptErrorKeepsEarlierWritesAsRedisDoes) {
  Client& a = NewClient();
  const Reply reply = One(a, {"EVAL", "redis.call('set', KEYS[1], 'me', 'PX', 1000) error('boom')", "1", "k"});
  EXPECT_TRUE(reply.IsError());
  EXPECT_THAT(reply.text, HasSubstr("boom"));
  EXPECT_EQ(One(a, {"GET", "k"}).text, "me");
}

// --- Read-only scripts ------------------------------------------------------

TEST_F(EngineTest, EvalRoReadsTheLocalTable) {
  Client& a = NewClient();
  One(a, {"LOCK", "k", "me", "5000"});
  Advance(1000);
  const char* body = "return {redis.call('get', KEYS[1]), redis.call('pttl', KEYS[1]), "
                     "redis.call('exists', KEYS[1], KEYS[2]), redis.call('ttl', KEYS[2])}";
  const Reply reply = One(a, {"EVAL_RO", body, "2", "k", "free"});
  ASSERT_EQ(reply.type, Reply::Type::kArray);
  ASSERT_EQ(reply.elements.size(), 4u);
  EXPECT_EQ(reply.elements[0].text, "me");
  EXPECT_EQ(reply.elements[1].integer, Reported(4000));
  EXPECT_EQ(reply.elements[2].integer, 1);
  EXPECT_EQ(reply.elements[3].integer, -2);
  const std::string sha = One(a, {"SCRIPT", "LOAD", "return redis.call('get', KEYS[1])"}).text;
  EXPECT_EQ(One(a, {"EVALSHA_RO", sha, "1", "k"}).text, "me");
  const Reply info = One(a, {"EVAL_RO", "return redis.call('lockinfo', KEYS[1])", "1", "k"});
  ASSERT_NE(info.Field("token"), nullptr);
  EXPECT_EQ(info.Field("token")->integer, One(a, {"LOCKINFO", "k"}).Field("token")->integer);
  Advance(4001);
  EXPECT_TRUE(One(a, {"EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k"}).IsNull()) << "expired";
}

TEST_F(EngineTest, EvalRoRefusesWrites) {
  Client& a = NewClient();
  One(a, {"LOCK", "k", "me", "5000"});
  for (const char* body : {"return redis.call('del', KEYS[1])", "return redis.call('release', KEYS[1], 'me')",
                           "return redis.call('set', KEYS[1], 'x', 'PX', 100)",
                           "return redis.call('pexpire', KEYS[1], 100)"}) {
    const Reply reply = One(a, {"EVAL_RO", body, "1", "k"});
    EXPECT_TRUE(reply.IsError()) << body;
    EXPECT_THAT(reply.text, HasSubstr("ERR Write commands are not allowed from read-only scripts.")) << body;
  }
  const std::string sha = One(a, {"SCRIPT", "LOAD", "return redis.call('del', KEYS[1])"}).text;
  EXPECT_THAT(One(a, {"EVALSHA_RO", sha, "1", "k"}).text, HasSubstr("not allowed from read-only scripts"));
  EXPECT_EQ(One(a, {"GET", "k"}).text, "me");
  EXPECT_EQ(One(a, {"PTTL", "k"}).integer, Reported(5000));
}

// --- Lock-library scripts ---------------------------------------------------

TEST_F(EngineTest, RedisPyReleaseScriptReleasesAndWakesAWaiter) {
  Client& a = NewClient();
  Client& b = NewClient();
  const int64_t first = One(a, {"LOCK", "k", "a", "5000"}).integer;
  EXPECT_TRUE(Send(b, {"LOCK", "k", "b", "5000", "WAIT", "1000"}).empty()) << "b blocks";
  EXPECT_EQ(One(a, {"EVAL", kReleaseScript, "1", "k", "not-a"}).integer, 0) << "wrong owner";
  EXPECT_TRUE(Take(b).empty());
  EXPECT_EQ(One(a, {"EVAL", kReleaseScript, "1", "k", "a"}).integer, 1);
  const auto woken = Take(b);
  ASSERT_EQ(woken.size(), 1u) << "the release wakes the waiter";
  EXPECT_EQ(woken[0].type, Reply::Type::kInteger);
  EXPECT_GT(woken[0].integer, first);
  EXPECT_EQ(b.blocked, BlockKind::kNone);
  EXPECT_EQ(One(a, {"GET", "k"}).text, "b");
  EXPECT_EQ(One(a, {"EVAL", kReleaseScript, "1", "k", "a"}).integer, 0) << "a no longer holds it";
}

TEST_F(EngineTest, RedisPyReleaseScriptByShaWakesAWaitClient) {
  Client& a = NewClient();
  Client& b = NewClient();
  One(a, {"LOCK", "k", "a", "5000"});
  const std::string sha = One(a, {"SCRIPT", "LOAD", kReleaseScript}).text;
  EXPECT_TRUE(Send(b, {"WAIT", "k", "1000"}).empty());
  EXPECT_EQ(One(a, {"EVALSHA", sha, "1", "k", "a"}).integer, 1);
  const auto woken = Take(b);
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_EQ(woken[0].integer, 1);
}

TEST_F(EngineTest, RedisPyExtendScript) {
  Client& a = NewClient();
  const int64_t token = One(a, {"LOCK", "k", "me", "1000"}).integer;
  Advance(400);
  EXPECT_EQ(One(a, {"EVAL", kExtendScript, "1", "k", "me", "5000", "1"}).integer, 1) << "replace_ttl";
  EXPECT_EQ(One(a, {"PTTL", "k"}).integer, Reported(5000));
  EXPECT_EQ(One(a, {"EVAL", kExtendScript, "1", "k", "me", "1000", "0"}).integer, 1) << "add";
  // "add" is PTTL + 1000, and PTTL reports what the holder may count on.
  EXPECT_EQ(One(a, {"PTTL", "k"}).integer, Reported(Reported(5000) + 1000));
  EXPECT_EQ(One(a, {"EVAL", kExtendScript, "1", "k", "other", "5000", "1"}).integer, 0);
  EXPECT_EQ(One(a, {"LOCKINFO", "k"}).Field("token")->integer, token) << "the same lease";
  EXPECT_EQ(One(a, {"EVAL", kExtendScript, "1", "free", "me", "5000", "1"}).integer, 0);
  EXPECT_EQ(One(a, {"EXISTS", "free"}).integer, 0);
}

// --- DELIFEQ, DELEX, SET ... IFEQ -------------------------------------------

TEST_F(EngineTest, DelIfEq) {
  Client& a = NewClient();
  One(a, {"LOCK", "k", "me", "5000"});
  EXPECT_EQ(One(a, {"DELIFEQ", "k", "other"}).integer, 0);
  EXPECT_EQ(One(a, {"GET", "k"}).text, "me");
  EXPECT_EQ(One(a, {"DELIFEQ", "k", "me"}).integer, 1);
  EXPECT_EQ(One(a, {"EXISTS", "k"}).integer, 0);
  EXPECT_EQ(One(a, {"DELIFEQ", "k", "me"}).integer, 0);
  EXPECT_EQ(One(a, {"DELIFEQ", "k"}).text, errors::WrongArity("delifeq"));
}

TEST_F(EngineTest, DelIfEqWakesAWaiter) {
  Client& a = NewClient();
  Client& b = NewClient();
  One(a, {"LOCK", "k", "a", "5000"});
  Send(b, {"LOCK", "k", "b", "5000", "WAIT", "0"});
  EXPECT_EQ(One(a, {"DELIFEQ", "k", "a"}).integer, 1);
  const auto woken = Take(b);
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_EQ(woken[0].type, Reply::Type::kInteger);
}

TEST_F(EngineTest, DelEx) {
  Client& a = NewClient();
  One(a, {"LOCK", "k", "me", "5000"});
  EXPECT_EQ(One(a, {"DELEX", "k"}).integer, 1) << "plain DELEX deletes whoever holds it";
  EXPECT_EQ(One(a, {"DELEX", "k"}).integer, 0);
  One(a, {"LOCK", "k", "me", "5000"});
  EXPECT_EQ(One(a, {"DELEX", "k", "IFEQ", "other"}).integer, 0);
  EXPECT_EQ(One(a, {"GET", "k"}).text, "me");
  EXPECT_EQ(One(a, {"DELEX", "k", "ifeq", "me"}).integer, 1);
  EXPECT_EQ(One(a, {"EXISTS", "k"}).integer, 0);
  One(a, {"LOCK", "k", "me", "5000"});
  for (const char* condition : {"IFNE", "IFDEQ", "IFDNE"}) {
    const Reply reply = One(a, {"DELEX", "k", condition, "me"});
    EXPECT_TRUE(reply.IsError()) << condition;
    EXPECT_THAT(reply.text, HasSubstr("only IFEQ")) << condition;
  }
  EXPECT_EQ(One(a, {"DELEX", "k", "IFEQ"}).text, errors::kSyntax);
  EXPECT_EQ(One(a, {"DELEX", "k", "IFEQ", "me", "extra"}).text, errors::kSyntax);
  EXPECT_EQ(One(a, {"DELEX"}).text, errors::WrongArity("delex"));
  EXPECT_EQ(One(a, {"GET", "k"}).text, "me") << "refused forms touched nothing";
}

TEST_F(EngineTest, SetIfEqHandsTheLeaseOver) {
  Client& a = NewClient();
  const int64_t token = One(a, {"LOCK", "k", "old", "5000"}).integer;
  const Reply swapped = One(a, {"SET", "k", "new", "IFEQ", "old", "PX", "10000"});
  EXPECT_EQ(swapped.type, Reply::Type::kSimple);
  EXPECT_EQ(swapped.text, "OK");
  Reply info = One(a, {"LOCKINFO", "k"});
  EXPECT_EQ(info.Field("owner")->text, "new");
  EXPECT_EQ(info.Field("token")->integer, token) << "the same lease";
  EXPECT_EQ(info.Field("remaining_ms")->integer, Reported(10000));
  EXPECT_TRUE(One(a, {"SET", "k", "other", "IFEQ", "old", "PX", "1000"}).IsNull());
  EXPECT_EQ(One(a, {"GET", "k"}).text, "new");
  Advance(2000);
  EXPECT_EQ(One(a, {"SET", "k", "newer", "IFEQ", "new", "KEEPTTL"}).text, "OK");
  info = One(a, {"LOCKINFO", "k"});
  EXPECT_EQ(info.Field("owner")->text, "newer");
  EXPECT_EQ(info.Field("token")->integer, token);
  EXPECT_GE(info.Field("remaining_ms")->integer, Reported(8000));
  EXPECT_EQ(One(a, {"SET", "k", "last", "IFEQ", "newer", "PX", "1000"}).text, "OK");
  EXPECT_GE(One(a, {"PTTL", "k"}).integer, Reported(8000)) << "never shortened";
  EXPECT_EQ(One(a, {"LOCKINFO", "k"}).Field("token")->integer, token);
  EXPECT_TRUE(One(a, {"SET", "free", "x", "IFEQ", "y", "PX", "1000"}).IsNull());
  EXPECT_EQ(One(a, {"EXISTS", "free"}).integer, 0);
}

TEST_F(EngineTest, SetIfEqForms) {
  Client& a = NewClient();
  One(a, {"LOCK", "k", "old", "5000"});
  EXPECT_EQ(One(a, {"SET", "k", "new", "NX", "IFEQ", "old", "PX", "100"}).text, errors::kSyntax);
  EXPECT_EQ(One(a, {"SET", "k", "new", "IFEQ", "old"}).text, errors::kSetForm);
  EXPECT_EQ(One(a, {"SET", "k", "new", "IFEQ", "old", "PX", "100", "EX", "1"}).text, errors::kSyntax);
  EXPECT_EQ(One(a, {"SET", "k", "new", "IFEQ", "old", "PX", "0"}).text,
            "ERR invalid expire time in 'set' command");
  EXPECT_EQ(One(a, {"SET", "k", "new", "IFEQ", "old", "PX", "60001"}).text, errors::TtlRange(60'000));
  EXPECT_TRUE(One(a, {"SET", "k", "new", "NX", "KEEPTTL"}).IsNull()) << "NX: the key is held";
  EXPECT_EQ(One(a, {"GET", "k"}).text, "old") << "refused forms touched nothing";
}

// --- RESP3 ------------------------------------------------------------------

class EngineResp3Test : public EngineTest {
 protected:
  // The exact bytes a command's reply is.
  std::string Raw(Client& client, std::vector<std::string> args) {
    engine_.Execute(client, args, now_);
    EndTurn();
    std::string bytes = client.reply();
    client.reply().clear();
    return bytes;
  }
};

TEST_F(EngineResp3Test, ScriptRepliesInResp3) {
  Client& a = NewClient();
  One(a, {"HELLO", "3"});
  EXPECT_EQ(Raw(a, {"EVAL", "return {1, 'x', false, {ok = 'FINE'}}", "0"}), "*4\r\n:1\r\n$1\r\nx\r\n_\r\n+FINE\r\n");
  EXPECT_EQ(Raw(a, {"EVAL", "return false", "0"}), "_\r\n") << "a script's null is RESP3's null";
  const Reply error = One(a, {"EVAL", "return {err = 'MYERR no'}", "0"});
  EXPECT_TRUE(error.IsError());
  EXPECT_EQ(error.text, "MYERR no");
  One(a, {"LOCK", "k", "me", "5000"});
  // Scripts speak RESP2, as in Redis: LOCKINFO inside a script is a flat
  // array even for a RESP3 client.
  const Reply info = One(a, {"EVAL", "return redis.call('lockinfo', KEYS[1])", "1", "k"});
  EXPECT_EQ(info.type, Reply::Type::kArray);
  EXPECT_EQ(info.Field("owner")->text, "me");
  // A script that writes, through the cluster, in RESP3.
  EXPECT_EQ(Raw(a, {"EVAL", kReleaseScript, "1", "k", "me"}), ":1\r\n");
  EXPECT_EQ(Raw(a, {"EVAL", "return redis.call('get', KEYS[1])", "1", "k"}), "_\r\n");
}

// --- Limits -----------------------------------------------------------------

Config ScriptLimitsConfig() {
  Config config;
  config.script_max_keys = 2;
  config.script_cache_max = 2;
  config.script_time_limit_ms = 30;
  return config;
}

class EngineScriptLimitsTest : public EngineTest {
 protected:
  EngineScriptLimitsTest() : EngineTest(ScriptLimitsConfig()) {}
};

TEST_F(EngineScriptLimitsTest, NumKeysAboveScriptMaxKeys) {
  Client& a = NewClient();
  EXPECT_EQ(One(a, {"EVAL", "return 1", "3", "a", "b", "c"}).text,
            "ERR the script declares 3 keys; script-max-keys is 2");
  EXPECT_EQ(One(a, {"EVAL_RO", "return 1", "3", "a", "b", "c"}).text,
            "ERR the script declares 3 keys; script-max-keys is 2");
  EXPECT_EQ(One(a, {"EVAL", "return #KEYS", "2", "a", "b", "c"}).integer, 2);
}

TEST_F(EngineScriptLimitsTest, EvictedScriptIsNoScript) {
  Client& a = NewClient();
  const std::string one = One(a, {"SCRIPT", "LOAD", "return 1"}).text;
  One(a, {"SCRIPT", "LOAD", "return 2"});
  One(a, {"SCRIPT", "LOAD", "return 3"});
  EXPECT_EQ(One(a, {"EVALSHA", one, "0"}).text, errors::kNoScript);
  EXPECT_EQ(One(a, {"EVAL", "return 1", "0"}).integer, 1) << "clients send the body again";
  EXPECT_EQ(One(a, {"EVALSHA", one, "0"}).integer, 1);
}

TEST_F(EngineScriptLimitsTest, ScriptPastTheTimeLimitIsStoppedAndItsWritesDiscarded) {
  Client& a = NewClient();
  const Reply reply =
      One(a, {"EVAL", "redis.call('set', KEYS[1], 'me', 'PX', 1000) while true do end", "1", "k"});
  EXPECT_TRUE(reply.IsError());
  EXPECT_THAT(reply.text, HasSubstr("script-time-limit"));
  EXPECT_TRUE(One(a, {"GET", "k"}).IsNull()) << "its writes were discarded";
  EXPECT_EQ(One(a, {"EVAL", "return redis.call('set', KEYS[1], 'me', 'PX', 1000)", "1", "k"}).text, "OK");
  EXPECT_EQ(One(a, {"GET", "k"}).text, "me");
}

}  // namespace
}  // namespace lockerd::server
