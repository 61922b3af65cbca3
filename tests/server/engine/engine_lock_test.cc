// Lock commands through the engine: replies as SPEC section 1 writes them.
#include <gtest/gtest.h>

#include "cluster/lease_math.h"

#include "base/errors.h"
#include "tests/server/engine/engine_fixture.h"

namespace lockerd::server {
namespace {

// PTTL, TTL and LOCKINFO report what the holder may count on: the time
// left, less the drift allowance (1%) and δ (cluster/lease_math.h).
int64_t Reported(int64_t remaining_ms) { return cluster::ReportedRemainingMs(remaining_ms, 0.01); }

using testing::Reply;

TEST_F(EngineTest, LockLifecycle) {
  Client& a = NewClient();
  const Reply token = One(a, {"LOCK", "k", "me", "5000"});
  ASSERT_EQ(token.type, Reply::Type::kInteger);
  EXPECT_GT(token.integer, 0);
  EXPECT_TRUE(One(a, {"LOCK", "k", "other", "5000"}).IsNull());
  EXPECT_EQ(One(a, {"LOCK", "k", "me", "9000"}).integer, token.integer) << "idempotent";
  EXPECT_EQ(One(a, {"PTTL", "k"}).integer, Reported(9000));
  const Reply info = One(a, {"LOCKINFO", "k"});
  ASSERT_EQ(info.type, Reply::Type::kArray) << "RESP2: a flat array";
  EXPECT_EQ(info.Field("owner")->text, "me");
  EXPECT_EQ(info.Field("token")->integer, token.integer);
  EXPECT_EQ(info.Field("remaining_ms")->integer, Reported(9000));
  EXPECT_EQ(One(a, {"EXTEND", "k", "me", "20000"}).integer, token.integer);
  EXPECT_TRUE(One(a, {"EXTEND", "k", "other", "20000"}).IsNull());
  EXPECT_EQ(One(a, {"RELEASE", "k", "other"}).integer, 0);
  EXPECT_EQ(One(a, {"RELEASE", "k", "me"}).integer, 1);
  EXPECT_EQ(One(a, {"RELEASE", "k", "me"}).integer, 0);
  EXPECT_TRUE(One(a, {"LOCKINFO", "k"}).IsNull());
  EXPECT_TRUE(One(a, {"EXTEND", "k", "me", "100"}).IsNull());
  EXPECT_GT(One(a, {"LOCK", "k", "other", "100"}).integer, token.integer) << "tokens grow";
}

TEST_F(EngineTest, LockInfoIsAMapInResp3) {
  Client& a = NewClient();
  One(a, {"HELLO", "3"});
  One(a, {"LOCK", "k", "me", "5000"});
  const Reply info = One(a, {"LOCKINFO", "k"});
  EXPECT_EQ(info.type, Reply::Type::kMap);
  EXPECT_EQ(info.Field("owner")->text, "me");
  EXPECT_EQ(One(a, {"LOCKINFO", "none"}).type, Reply::Type::kNull);
}

TEST_F(EngineTest, TtlOutsideItsRangeIsRefused) {
  Client& a = NewClient();
  const std::string range = errors::TtlRange(60'000);
  EXPECT_EQ(One(a, {"LOCK", "k", "me", "0"}).text, range);
  EXPECT_EQ(One(a, {"LOCK", "k", "me", "60001"}).text, range);
  EXPECT_EQ(One(a, {"LOCK", "k", "me", "-5"}).text, range);
  EXPECT_EQ(One(a, {"LOCK", "k", "me", "5s"}).text, errors::kNotInteger);
  EXPECT_EQ(One(a, {"EXTEND", "k", "me", "0"}).text, range);
  EXPECT_EQ(One(a, {"LOCK", "k", "me", "100", "WAIT"}).text, errors::kSyntax);
  EXPECT_EQ(One(a, {"LOCK", "k", "me"}).text, "ERR wrong number of arguments for 'lock' command");
  EXPECT_EQ(One(a, {"LOCK", "k", "me", "100", "WAIT", "-1"}).text, errors::kTimeoutNegative);
  EXPECT_EQ(One(a, {"LOCK", "k", "me", "100", "NOWAIT", "1"}).text, errors::kSyntax);
  EXPECT_EQ(One(a, {"LOCK", "k", "me", "100", "WAIT", "1", "x"}).text, errors::kSyntax);
  EXPECT_EQ(One(a, {"DBSIZE"}).integer, 0) << "a refused command touched nothing";
}

TEST_F(EngineTest, UpdateHandsTheLeaseOver) {
  Client& a = NewClient();
  const int64_t token = One(a, {"LOCK", "k", "me", "1000"}).integer;
  Advance(300);
  EXPECT_EQ(One(a, {"UPDATE", "k", "me", "you"}).integer, token);
  EXPECT_EQ(One(a, {"GET", "k"}).text, "you");
  EXPECT_EQ(One(a, {"PTTL", "k"}).integer, Reported(708)) << "what was left, with the drift margin";
  EXPECT_TRUE(One(a, {"UPDATE", "k", "me", "again"}).IsNull());
  EXPECT_EQ(One(a, {"RELEASE", "k", "me"}).integer, 0);
  EXPECT_EQ(One(a, {"RELEASE", "k", "you"}).integer, 1);
}

// SET NX acquires as LOCK does, with Redis's rule: null whenever the key is
// held, whatever the value (no renewal by the same value).
TEST_F(EngineTest, SetNxAcquiresOnlyAFreeKey) {
  Client& a = NewClient();
  EXPECT_EQ(One(a, {"SET", "k", "v1", "NX", "PX", "1000"}).text, "OK");
  EXPECT_TRUE(One(a, {"SET", "k", "v2", "NX", "PX", "1000"}).IsNull());
  EXPECT_TRUE(One(a, {"set", "k", "v1", "px", "3000", "nx"}).IsNull()) << "the same value does not renew";
  EXPECT_EQ(One(a, {"PTTL", "k"}).integer, Reported(1000));
  EXPECT_EQ(One(a, {"SET", "j", "v", "NX", "EX", "2"}).text, "OK");
  EXPECT_EQ(One(a, {"TTL", "j"}).integer, 2);
  EXPECT_EQ(One(a, {"GET", "j"}).text, "v");
}

// SET's other forms (XX, GET, KEEPTTL, no condition) run as a one-key
// transaction with Redis's meaning on leases; only a SET without a ttl, or
// with an absolute one, is refused (a lease must end).
TEST_F(EngineTest, SetFormsBeyondNxAnswerAsRedisDoesOnLeases) {
  Client& a = NewClient();
  for (std::vector<std::string> args :
       {std::vector<std::string>{"SET", "k", "v"}, {"SET", "k", "v", "NX"}, {"SET", "k", "v", "XX", "GET"},
        {"SET", "k", "v", "NX", "PXAT", "100"}, {"SET", "k", "v", "EXAT", "100"}}) {
    EXPECT_EQ(One(a, args).text, errors::kSetForm) << args.size();
  }
  EXPECT_EQ(One(a, {"SET", "k", "v", "NX", "PX", "1", "EX", "2"}).text, errors::kSyntax);
  EXPECT_EQ(One(a, {"SET", "k", "v", "NX", "XX", "PX", "2"}).text, errors::kSyntax);
  EXPECT_EQ(One(a, {"SET", "k", "v", "NX", "BOGUS"}).text, errors::kSyntax);
  EXPECT_EQ(One(a, {"SET", "k", "v", "NX", "PX", "0"}).text, errors::kInvalidExpireSet);
  EXPECT_EQ(One(a, {"SET", "k", "v", "XX", "PX", "0"}).text, errors::kInvalidExpireSet);
  EXPECT_EQ(One(a, {"SET", "k", "v", "NX", "EX", "61"}).text, errors::TtlRange(60'000));
  EXPECT_TRUE(One(a, {"SET", "free", "x", "IFEQ", "y", "PX", "1000"}).IsNull());
  EXPECT_TRUE(One(a, {"SET", "free", "x", "XX", "PX", "1000"}).IsNull());
  EXPECT_TRUE(One(a, {"SET", "free", "x", "XX", "GET", "PX", "1000"}).IsNull());
  EXPECT_EQ(One(a, {"EXISTS", "free"}).integer, 0);

  EXPECT_EQ(One(a, {"SET", "k", "v1", "PX", "3000"}).text, "OK");
  const int64_t first = One(a, {"LOCKINFO", "k"}).elements[3].integer;
  EXPECT_EQ(One(a, {"SET", "k", "v2", "XX", "PX", "3000"}).text, "OK");
  EXPECT_GT(One(a, {"LOCKINFO", "k"}).elements[3].integer, first) << "a take-over gets a fresh token";
  EXPECT_EQ(One(a, {"SET", "k", "v3", "NX", "GET", "PX", "3000"}).text, "v2") << "held: not set";
  EXPECT_EQ(One(a, {"SET", "k", "v4", "GET", "EX", "3"}).text, "v2");
  EXPECT_EQ(One(a, {"GET", "k"}).text, "v4");
  EXPECT_EQ(One(a, {"SET", "k", "v5", "KEEPTTL"}).text, "OK");
  EXPECT_EQ(One(a, {"GET", "k"}).text, "v5");
  EXPECT_TRUE(One(a, {"SET", "j", "v", "NX", "GET", "PX", "3000"}).IsNull());
  EXPECT_EQ(One(a, {"GET", "j"}).text, "v");
  EXPECT_EQ(One(a, {"SET", "gone", "v", "KEEPTTL"}).text,
            "ERR keys here are leases: SET KEEPTTL needs a held key, use PX or EX");
}

TEST_F(EngineTest, DelForceReleasesAndCounts) {
  Client& a = NewClient();
  One(a, {"LOCK", "a", "me", "1000"});
  One(a, {"LOCK", "b", "you", "1000"});
  EXPECT_EQ(One(a, {"DEL", "a", "b", "c"}).integer, 2);
  EXPECT_EQ(One(a, {"EXISTS", "a", "b"}).integer, 0);
}

TEST_F(EngineTest, ExpiredLeaseReadsAsAbsent) {
  Client& a = NewClient();
  One(a, {"LOCK", "k", "me", "100"});
  Advance(100);
  EXPECT_EQ(One(a, {"EXISTS", "k"}).integer, 1);
  EXPECT_EQ(One(a, {"TYPE", "k"}).text, "string");
  EXPECT_EQ(One(a, {"PTTL", "k"}).integer, 0) << "its last millisecond";
  Advance(1);
  EXPECT_EQ(One(a, {"EXISTS", "k"}).integer, 0);
  EXPECT_EQ(One(a, {"PTTL", "k"}).integer, -2);
  EXPECT_EQ(One(a, {"TTL", "k"}).integer, -2);
  EXPECT_EQ(One(a, {"TYPE", "k"}).text, "none");
  EXPECT_TRUE(One(a, {"GET", "k"}).IsNull());
  EXPECT_EQ(One(a, {"DBSIZE"}).integer, 0);
}

TEST_F(EngineTest, KeysAndScanSeeHeldKeys) {
  Client& a = NewClient();
  for (int i = 0; i < 30; ++i) One(a, {"LOCK", "job:" + std::to_string(i), "me", "1000"});
  One(a, {"LOCK", "other", "me", "1000"});
  EXPECT_EQ(One(a, {"KEYS", "job:*"}).elements.size(), 30u);
  EXPECT_EQ(One(a, {"KEYS", "job:[12]"}).elements.size(), 2u);
  EXPECT_EQ(One(a, {"DBSIZE"}).integer, 31);
  // Release some while scanning: every key held throughout is seen once.
  std::multiset<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    const Reply page = One(a, {"SCAN", cursor, "MATCH", "job:*", "COUNT", "4"});
    ASSERT_EQ(page.elements.size(), 2u);
    cursor = page.elements[0].text;
    for (const Reply& key : page.elements[1].elements) seen.insert(key.text);
    if (++calls == 2) One(a, {"RELEASE", "job:29", "me"});
  } while (cursor != "0" && calls < 100);
  for (int i = 0; i < 29; ++i) EXPECT_EQ(seen.count("job:" + std::to_string(i)), 1u) << i;
  EXPECT_EQ(seen.count("other"), 0u);
  EXPECT_EQ(One(a, {"SCAN", "0", "TYPE", "hash"}).elements[1].elements.size(), 0u);
  EXPECT_EQ(One(a, {"SCAN", "x"}).text, "ERR invalid cursor");
}

}  // namespace
}  // namespace lockerd::server
