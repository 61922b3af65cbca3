// appendonly yes with a log that cannot be written (Engine::SetCannotPersist):
// Redis's -MISCONF for write commands, PING and EXEC of queued writes; lock
// writes already on their way refused too; reads go on; peer messages dropped.
#include <gtest/gtest.h>

#include <algorithm>
#include <variant>

#include "base/errors.h"
#include "tests/server/engine/engine_fixture.h"

namespace lockerd::server {
namespace {

using testing::Reply;

constexpr const char* kNoSpace = "No space left on device";

class EngineNotDurableTest : public EngineTest {
 protected:
  static bool IsMisconf(const Reply& reply) {
    return reply.type == Reply::Type::kError && reply.text == errors::MisconfLog(kNoSpace);
  }
};

TEST_F(EngineNotDurableTest, WritesAndPingAnswerMisconfAndReadsGoOn) {
  Client& a = NewClient();
  const int64_t token = One(a, {"LOCK", "k", "a", "5000"}).integer;
  engine_.SetCannotPersist(kNoSpace);
  EXPECT_TRUE(IsMisconf(One(a, {"LOCK", "other", "a", "5000"})));
  EXPECT_TRUE(IsMisconf(One(a, {"EXTEND", "k", "a", "9000"})));
  EXPECT_TRUE(IsMisconf(One(a, {"RELEASE", "k", "a"})));
  EXPECT_TRUE(IsMisconf(One(a, {"SET", "x", "v", "NX", "PX", "1000"})));
  EXPECT_TRUE(IsMisconf(One(a, {"DEL", "k"})));
  EXPECT_TRUE(IsMisconf(One(a, {"EVAL", "return 1", "0"})));
  EXPECT_TRUE(IsMisconf(One(a, {"PING"}))) << "as Redis: a health check sees it";
  // Reads, and what is neither a read nor a write, go on.
  EXPECT_EQ(One(a, {"GET", "k"}).text, "a");
  EXPECT_EQ(One(a, {"LOCKINFO", "k"}).type, Reply::Type::kArray);
  EXPECT_GT(One(a, {"PTTL", "k"}).integer, 0);
  EXPECT_EQ(One(a, {"ECHO", "hi"}).text, "hi");
  EXPECT_EQ(One(a, {"EXISTS", "other"}).integer, 0) << "the refused LOCK took nothing";
  // Writable again: writes go through, and the lease is as it was.
  engine_.SetCannotPersist({});
  EXPECT_EQ(One(a, {"PING"}).text, "PONG");
  EXPECT_EQ(One(a, {"EXTEND", "k", "a", "9000"}).integer, token);
}

TEST_F(EngineNotDurableTest, ATransactionWithAWriteIsAbortedAsRedisDoes) {
  Client& a = NewClient();
  // Queued while it cannot persist: the write is refused, EXEC aborts.
  engine_.SetCannotPersist(kNoSpace);
  EXPECT_EQ(One(a, {"MULTI"}).text, "OK");
  EXPECT_TRUE(IsMisconf(One(a, {"LOCK", "k", "a", "5000"})));
  EXPECT_EQ(One(a, {"EXEC"}).text, "EXECABORT Transaction discarded because of previous errors.");
  // Queued before, executed after: EXEC itself is refused (Redis's
  // processCommand counts an EXEC of queued writes as a write).
  engine_.SetCannotPersist({});
  EXPECT_EQ(One(a, {"MULTI"}).text, "OK");
  EXPECT_EQ(One(a, {"LOCK", "k", "a", "5000"}).text, "QUEUED");
  engine_.SetCannotPersist(kNoSpace);
  const Reply exec = One(a, {"EXEC"});
  EXPECT_EQ(exec.type, Reply::Type::kError);
  EXPECT_EQ(exec.text.rfind("EXECABORT", 0), 0u) << exec.text;
  EXPECT_FALSE(a.in_multi());
  EXPECT_EQ(One(a, {"EXISTS", "k"}).integer, 0);
  // A transaction of reads runs.
  EXPECT_EQ(One(a, {"MULTI"}).text, "OK");
  EXPECT_EQ(One(a, {"GET", "k"}).text, "QUEUED");
  EXPECT_EQ(One(a, {"EXEC"}).type, Reply::Type::kArray);
}

TEST_F(EngineNotDurableTest, WaitersWokenWhileItCannotPersistAreRefusedOneAfterAnother) {
  Client& a = NewClient();
  Client& b = NewClient();
  Client& c = NewClient();
  One(a, {"LOCK", "k", "a", "300"});
  EXPECT_TRUE(Send(b, {"LOCK", "k", "b", "5000", "WAIT", "10000"}).empty());
  EXPECT_TRUE(Send(c, {"LOCK", "k", "c", "5000", "WAIT", "10000"}).empty());
  engine_.SetCannotPersist(kNoSpace);
  Advance(301);  // The lease runs out; b's LOCK would run again now.
  for (Client* waiter : {&b, &c}) {
    const auto woken = Take(*waiter);
    ASSERT_EQ(woken.size(), 1u) << "the line does not stall behind a refused waiter";
    EXPECT_TRUE(IsMisconf(woken[0]));
  }
  EXPECT_EQ(engine_.waiters().size(), 0u);
  EXPECT_EQ(One(a, {"EXISTS", "k"}).integer, 0) << "no waiter was granted the key";
  // Writable again: the key is not locked out by a stuck line.
  engine_.SetCannotPersist({});
  EXPECT_EQ(One(a, {"LOCK", "k", "a", "1000"}).type, Reply::Type::kInteger);
}

TEST_F(EngineNotDurableTest, ReadsOfStateNotYetDurableAreRefused) {
  Client& a = NewClient();
  One(a, {"LOCK", "k", "a", "5000"});
  One(a, {"LOCK", "other", "a", "5000"});
  // k changed in the turn whose sync failed: a crash would forget it.
  engine_.SetCannotPersist(kNoSpace);
  engine_.NoteNotDurable("k");
  for (const std::vector<std::string>& read : std::vector<std::vector<std::string>>{
           {"GET", "k"}, {"LOCKINFO", "k"}, {"PTTL", "k"}, {"TTL", "k"}, {"TYPE", "k"},
           {"EXISTS", "other", "k"}, {"WAIT", "k", "100"}, {"KEYS", "*"}, {"SCAN", "0"},
           {"DBSIZE"}}) {
    EXPECT_TRUE(IsMisconf(One(a, read))) << read[0];
  }
  EXPECT_EQ(One(a, {"GET", "other"}).text, "a");
  EXPECT_EQ(One(a, {"EXISTS", "other"}).integer, 1);
  // Queued or queued before: EXEC does not read it either.
  EXPECT_EQ(One(a, {"MULTI"}).text, "OK");
  EXPECT_TRUE(IsMisconf(One(a, {"GET", "k"})));
  EXPECT_EQ(One(a, {"EXEC"}).text, "EXECABORT Transaction discarded because of previous errors.");
  engine_.SetCannotPersist({});
  EXPECT_EQ(One(a, {"MULTI"}).text, "OK");
  EXPECT_EQ(One(a, {"GET", "k"}).text, "QUEUED");
  engine_.SetCannotPersist(kNoSpace);
  engine_.NoteNotDurable("k");
  EXPECT_EQ(One(a, {"EXEC"}).text.rfind("EXECABORT", 0), 0u);
  // Durable again: k reads back.
  engine_.SetCannotPersist({});
  EXPECT_EQ(One(a, {"GET", "k"}).text, "a");
}

class EngineNotDurableClusterTest : public EngineTest {
 protected:
  EngineNotDurableClusterTest() : EngineTest(TrioMemberConfig(0)) {}
};

TEST_F(EngineNotDurableClusterTest, MessagesFromPeersAreDropped) {
  cluster::Prepare body;
  body.round_id = 7;
  body.key = "k";
  body.ballot.round = 5;
  body.ballot.member = 1;
  const cluster::Message prepare(/*from_member=*/1, /*to_member=*/0, body);
  engine_.SetCannotPersist(kNoSpace);
  engine_.ReceivePeer(prepare, now_);
  EndTurn();
  const auto promises = [&] {
    return std::count_if(peer_messages_.begin(), peer_messages_.end(), [](const cluster::Message& m) {
      return std::holds_alternative<cluster::Promise>(m.body);
    });
  };
  EXPECT_EQ(promises(), 0) << "no promise for what could not be kept";
  EXPECT_EQ(engine_.node().table().registers_count(), 0u);
  engine_.SetCannotPersist({});
  engine_.ReceivePeer(prepare, now_);
  EndTurn();
  EXPECT_EQ(promises(), 1);
}

}  // namespace
}  // namespace lockerd::server
