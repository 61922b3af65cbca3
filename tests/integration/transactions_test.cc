// MULTI, EXEC, DISCARD, WATCH and UNWATCH (issue 15): each test sends the
// same calls with the same client to redis-server and to lockerd and
// compares the replies, so that a difference from Redis is what fails; the
// cluster tests also check that a transaction is one atomic unit through
// the majority.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/lockerd_cluster.h"
#include "tests/support/lockerd_process.h"
#include "tests/support/redis_compare.h"
#include "tests/support/redis_server.h"

namespace lockerd::testing {
namespace {

class Transactions : public AgainstRedis {};

// What redis-py's pipeline(), node-redis and ioredis multi() and go-redis
// TxPipelined send: the queued replies, then EXEC's array of each
// command's reply, in order, each seeing the writes before it.
const Calls kQueuedReadsAndWrites = {
    {"MULTI"},
    {"SET", "a", "v1", "NX", "PX", "10000"},
    {"SET", "a", "v2", "NX", "PX", "10000"},
    {"GET", "a"},
    {"SET", "b", "w", "NX", "EX", "10"},
    {"EXISTS", "a", "b", "c"},
    {"DEL", "b", "c"},
    {"PTTL", "c"},
    {"TYPE", "a"},
    {"TYPE", "b"},
    {"SET", "a", "v3", "NX", "PX", "abc"},
    {"SET", "a", "v3", "NX", "PX", "0"},
    {"PING"},
    {"ECHO", "hello"},
    {"EXEC"},
    {"GET", "a"},
    {"EXISTS", "b"},
};

TEST_F(Transactions, ExecAnswersEveryQueuedCommandAsRedisDoes) {
  RedisPtr theirs = redis_->Connect();
  const std::vector<std::string> expected = Replies(theirs.get(), kQueuedReadsAndWrites);
  auto server = LockerdProcess::Start();
  RedisPtr ours = server->Connect();
  EXPECT_EQ(Replies(ours.get(), kQueuedReadsAndWrites), expected);
}

TEST_F(Transactions, ExecThroughAClusterAnswersAsRedisDoesAndOtherMembersSeeItsWrites) {
  RedisPtr theirs = redis_->Connect();
  const std::vector<std::string> expected = Pipelined(theirs.get(), kQueuedReadsAndWrites);
  auto cluster = LockerdCluster::Start(3);
  RedisPtr ours = cluster->Connect(0);
  EXPECT_EQ(Pipelined(ours.get(), kQueuedReadsAndWrites), expected);
  // Written through the majority: another member refuses the key at once.
  RedisPtr other = cluster->Connect(2);
  EXPECT_EQ(Text(Command(other.get(), {"SET", "a", "x", "NX", "PX", "10000"})), "(nil)");
  EXPECT_TRUE(Eventually([&] { return Text(Command(other.get(), {"GET", "a"})) == "v1"; }));
}

// Redis's rules for what MULTI ... EXEC answers around the queued commands:
// a nested MULTI or a WATCH inside is an error that aborts nothing; a
// command rejected when queued (unknown, wrong arity) aborts the
// transaction; an error met while running (a bad ttl) is one reply in the
// array and the others still run; DISCARD forgets the queue.
const Calls kTransactionRules = {
    {"MULTI"},
    {"MULTI"},
    {"WATCH", "a"},
    {"SET", "a", "v", "NX", "PX", "10000"},
    {"EXEC"},
    {"MULTI"},
    {"SET", "b", "v", "NX", "PX", "10000"},
    {"GET"},
    {"EXEC"},
    {"EXISTS", "b"},
    {"MULTI"},
    {"SET", "c", "v", "NX", "PX", "10000"},
    {"DISCARD"},
    {"EXISTS", "c"},
    {"EXEC"},
    {"DISCARD"},
    {"MULTI"},
    {"EXEC"},
    {"UNWATCH"},
    // An EXEC refused for its arguments ends the transaction.
    {"MULTI"},
    {"SET", "d", "v", "NX", "PX", "10000"},
    {"EXEC", "now"},
    {"EXISTS", "d"},
    {"EXEC"},
};

TEST_F(Transactions, NestedQueuedAndDiscardedCommandsFollowRedisRules) {
  RedisPtr theirs = redis_->Connect();
  const std::vector<std::string> expected = Replies(theirs.get(), kTransactionRules);
  auto server = LockerdProcess::Start();
  RedisPtr ours = server->Connect();
  EXPECT_EQ(Replies(ours.get(), kTransactionRules), expected);
}

// The fields of `id`'s line in CLIENT LIST that describe its transaction.
std::string TransactionFields(redisContext* observer, const std::string& id) {
  const std::string list = Text(Command(observer, {"CLIENT", "LIST", "ID", id}));
  std::string fields;
  for (const char* name : {" flags=", " multi="}) {
    const size_t at = list.find(name);
    if (at == std::string::npos) return list;
    fields += list.substr(at, list.find(' ', at + 1) - at);
  }
  return fields;
}

// CLIENT LIST shows a connection in MULTI as Redis does (flag x, the
// number of queued commands), so that operators see a stuck transaction.
std::vector<std::string> ClientListScenario(redisContext* client, redisContext* observer) {
  const std::string id = Text(Command(client, {"CLIENT", "ID"}));
  std::vector<std::string> seen{TransactionFields(observer, id)};
  Replies(client, {{"MULTI"}, {"SET", "a", "v", "NX", "PX", "1000"}, {"GET", "a"}});
  seen.push_back(TransactionFields(observer, id));
  Replies(client, {{"DISCARD"}});
  seen.push_back(TransactionFields(observer, id));
  return seen;
}

TEST_F(Transactions, ClientListShowsAConnectionInMultiAsRedisDoes) {
  RedisPtr theirs = redis_->Connect();
  RedisPtr their_observer = redis_->Connect();
  const std::vector<std::string> expected = ClientListScenario(theirs.get(), their_observer.get());
  EXPECT_EQ(expected[1], " flags=x multi=2");
  auto server = LockerdProcess::Start();
  RedisPtr ours = server->Connect();
  RedisPtr our_observer = server->Connect();
  EXPECT_EQ(ClientListScenario(ours.get(), our_observer.get()), expected);
}

// WATCH: EXEC runs nothing and answers null when a watched key was taken,
// freed or expired after WATCH; UNWATCH, EXEC and DISCARD forget the watch.
// `first` and `second` are two connections (two members of a cluster).
std::vector<std::string> WatchScenario(redisContext* first, redisContext* second) {
  std::vector<std::string> replies;
  const auto add = [&replies](const std::vector<std::string>& more) {
    replies.insert(replies.end(), more.begin(), more.end());
  };
  // Taken by another client after WATCH: nothing runs.
  add(Replies(first, {{"WATCH", "w1"}}));
  add(Replies(second, {{"SET", "w1", "other", "NX", "PX", "10000"}}));
  add(Replies(first, {{"MULTI"}, {"SET", "out1", "me", "NX", "PX", "10000"}, {"EXEC"}, {"EXISTS", "out1"}}));
  // Untouched: it runs; the watch ended with that EXEC.
  add(Replies(first, {{"WATCH", "w2"}, {"MULTI"}, {"SET", "w2", "me", "NX", "PX", "10000"}, {"EXEC"}}));
  add(Replies(second, {{"DEL", "w2"}}));
  add(Replies(first, {{"MULTI"}, {"SET", "w2", "me", "NX", "PX", "10000"}, {"EXEC"}}));
  // Freed by another client after WATCH.
  add(Replies(first, {{"WATCH", "w1", "w2"}}));
  add(Replies(second, {{"DEL", "w1"}}));
  add(Replies(first, {{"MULTI"}, {"SET", "out2", "me", "NX", "PX", "10000"}, {"GET", "w2"}, {"EXEC"}}));
  // UNWATCH forgets it.
  add(Replies(first, {{"WATCH", "w2"}}));
  add(Replies(second, {{"DEL", "w2"}}));
  add(Replies(first, {{"UNWATCH"}, {"MULTI"}, {"SET", "out3", "me", "NX", "PX", "10000"}, {"EXEC"}}));
  // DISCARD forgets it.
  add(Replies(first, {{"WATCH", "out3"}, {"MULTI"}, {"DISCARD"}}));
  add(Replies(second, {{"DEL", "out3"}}));
  add(Replies(first, {{"MULTI"}, {"EXISTS", "out3"}, {"EXEC"}}));
  // Expired after WATCH (Redis counts that as a change too).
  add(Replies(first, {{"SET", "short", "me", "NX", "PX", "150"}, {"WATCH", "short"}}));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  add(Replies(first, {{"MULTI"}, {"SET", "out4", "me", "NX", "PX", "10000"}, {"EXEC"}, {"EXISTS", "out4"}}));
  return replies;
}

TEST_F(Transactions, WatchedKeyChangedMakesExecRunNothingAsInRedis) {
  RedisPtr theirs = redis_->Connect();
  RedisPtr theirs_too = redis_->Connect();
  const std::vector<std::string> expected = WatchScenario(theirs.get(), theirs_too.get());
  auto server = LockerdProcess::Start();
  RedisPtr ours = server->Connect();
  RedisPtr ours_too = server->Connect();
  EXPECT_EQ(WatchScenario(ours.get(), ours_too.get()), expected);
}

TEST_F(Transactions, WatchSeesChangesMadeThroughAnotherMember) {
  RedisPtr theirs = redis_->Connect();
  RedisPtr theirs_too = redis_->Connect();
  const std::vector<std::string> expected = WatchScenario(theirs.get(), theirs_too.get());
  auto cluster = LockerdCluster::Start(3);
  RedisPtr via_first = cluster->Connect(0);
  RedisPtr via_second = cluster->Connect(1);
  EXPECT_EQ(WatchScenario(via_first.get(), via_second.get()), expected);
}

// Two clients, through two members, race transactions that each take two
// free keys: each pair goes whole to one of them (one EXEC answers
// [OK, OK], the other null or [nil, nil]), never one key to each, as a
// transaction that was not one atomic unit could do.
TEST_F(Transactions, RacingTransactionsThroughTwoMembersEachTakeAllOrNothing) {
  auto cluster = LockerdCluster::Start(3);
  RedisPtr first = cluster->Connect(0);
  RedisPtr second = cluster->Connect(1);
  const auto transaction = [](const std::string& owner, int round) {
    const std::string n = std::to_string(round);
    return Calls{{"WATCH", "gate:" + n},
                 {"MULTI"},
                 {"SET", "gate:" + n, owner, "NX", "PX", "10000"},
                 {"SET", "data:" + n, owner, "NX", "PX", "10000"},
                 {"EXEC"}};
  };
  for (int round = 0; round < 20; ++round) {
    for (const auto& [client, owner] : {std::pair{first.get(), "A"}, std::pair{second.get(), "B"}}) {
      for (const std::vector<std::string>& call : transaction(owner, round)) Append(client, call);
    }
    std::vector<std::string> execs;
    for (redisContext* client : {first.get(), second.get()}) {
      for (int i = 0; i < 4; ++i) NextReply(client);
      execs.push_back(NextReply(client));
    }
    const std::string n = std::to_string(round);
    const std::string gate = Text(Command(first.get(), {"SET", "gate:" + n, "probe", "NX", "PX", "10000"}));
    EXPECT_EQ(gate, "(nil)") << "round " << n << ": nobody took the gate";
    // The data key went to the gate's holder, and only one EXEC took the gate.
    int took = 0;
    for (const std::string& exec : execs) took += exec == "[OK, OK]";
    EXPECT_EQ(took, 1) << "round " << n << ": " << execs[0] << " / " << execs[1];
    ASSERT_TRUE(Eventually([&] {
      return Text(Command(first.get(), {"GET", "data:" + n})) == Text(Command(first.get(), {"GET", "gate:" + n}));
    })) << "round " << n;
  }
}

// lockerd's own commands in a transaction: LOCK answers its token, RELEASE
// 1 or 0, and LOCK ... WAIT does not block (as Redis's blocking commands
// inside MULTI), WAIT answers at once.
TEST(TransactionsOfLocks, LockCommandsRunInsideMultiWithoutBlocking) {
  auto cluster = LockerdCluster::Start(3);
  RedisPtr ours = cluster->Connect(0);
  RedisPtr other = cluster->Connect(1);
  const ReplyPtr held = Command(other.get(), {"LOCK", "busy", "other", "10000"});
  ASSERT_EQ(held->type, REDIS_REPLY_INTEGER);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::string> replies =
      Pipelined(ours.get(), {{"MULTI"},
                             {"LOCK", "mine", "me", "10000"},
                             {"LOCK", "busy", "me", "10000", "WAIT", "5000"},
                             {"WAIT", "busy", "5000"},
                             {"WAIT", "free", "5000"},
                             {"RELEASE", "mine", "someone"},
                             {"EXTEND", "mine", "me", "20000"},
                             {"EXEC"}});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_EQ(replies.size(), 8u);
  for (size_t i = 1; i < 7; ++i) EXPECT_EQ(replies[i], "QUEUED");
  const ReplyPtr info = Command(ours.get(), {"LOCKINFO", "mine"});
  ASSERT_EQ(info->type, REDIS_REPLY_ARRAY);
  const std::string token = Shown(info->element[3]);
  EXPECT_EQ(replies[7], "[" + token + ", (nil), (nil), 0, 0, " + token + "]");
}

// Fencing tokens only grow, transactions included: a token granted and
// freed inside one EXEC is never granted again (the review of issue 15 saw
// the next LOCK, in the same millisecond, get the same token), and a
// KEEPTTL take-over by another owner gets a fresh token (with the old one
// the old holder's writes could not be told from the new holder's).
TEST(TransactionsOfLocks, TokensGrantedInsideATransactionAreNeverGrantedAgain) {
  auto cluster = LockerdCluster::Start(3);
  RedisPtr ours = cluster->Connect(0);
  RedisPtr other = cluster->Connect(1);
  for (int round = 0; round < 20; ++round) {
    const std::string key = "tk" + std::to_string(round);
    const std::vector<std::string> replies =
        Pipelined(ours.get(), {{"MULTI"}, {"LOCK", key, "a", "10000"}, {"RELEASE", key, "a"}, {"EXEC"}});
    const std::string exec = replies.back();
    ASSERT_EQ(exec.rfind("[", 0), 0u) << exec;
    const uint64_t granted = std::stoull(exec.substr(1, exec.find(',') - 1));
    const ReplyPtr next = Command(other.get(), {"LOCK", key, "c", "10000"});
    ASSERT_EQ(next->type, REDIS_REPLY_INTEGER);
    EXPECT_GT(static_cast<uint64_t>(next->integer), granted) << "round " << round;
  }
  EXPECT_EQ(Text(Command(ours.get(), {"SET", "kt", "c", "GET", "PX", "5000"})), "(nil)");
  const ReplyPtr before = Command(ours.get(), {"LOCKINFO", "kt"});
  EXPECT_EQ(Text(Command(ours.get(), {"SET", "kt", "d", "KEEPTTL"})), "OK");
  const ReplyPtr after = Command(ours.get(), {"LOCKINFO", "kt"});
  ASSERT_EQ(before->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(after->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(Shown(after->element[1]), "d");
  EXPECT_GT(after->element[3]->integer, before->element[3]->integer);
  EXPECT_LE(after->element[5]->integer, before->element[5]->integer + 100) << "KEEPTTL keeps the deadline";
}

// Reading a lease through the majority never lengthens it: another
// client's WATCH + MULTI polling of a dead holder's lock (and two-key
// scripts reading it) used to add 1% + 1 ms to it per read, so the lock
// never ran out while anyone polled it (10 s grew to 59 s in the review).
TEST(TransactionsOfLocks, ReadingALeaseInTransactionsNeverLengthensIt) {
  auto cluster = LockerdCluster::Start(3);
  RedisPtr holder = cluster->Connect(0);
  RedisPtr poller = cluster->Connect(1);
  ASSERT_EQ(Command(holder.get(), {"LOCK", "dead", "gone", "2000"})->type, REDIS_REPLY_INTEGER);
  const auto taken = std::chrono::steady_clock::now();
  int polls = 0;
  while (std::chrono::steady_clock::now() - taken < std::chrono::milliseconds(1500)) {
    const std::string other = "other" + std::to_string(polls % 2);
    Pipelined(poller.get(), {{"WATCH", "dead"}, {"MULTI"}, {"SET", other, "z", "PX", "1000"}, {"EXEC"}});
    Command(poller.get(), {"EVAL", "return redis.call('MGET', KEYS[1], KEYS[2])", "2", "dead", other});
    ++polls;
  }
  EXPECT_GT(polls, 20);
  // The lease ends when its 2 s are up, wherever it is read.
  std::this_thread::sleep_until(taken + std::chrono::milliseconds(2200));
  for (size_t member = 0; member < 3; ++member) {
    RedisPtr probe = cluster->Connect(member);
    EXPECT_EQ(Text(Command(probe.get(), {"EXISTS", "dead"})), "0") << "member " << member << ", " << polls << " polls";
  }
  EXPECT_EQ(Text(Command(poller.get(), {"SET", "dead", "next", "NX", "PX", "1000"})), "OK");
}

// What lockerd does not offer inside MULTI is rejected when queued, with
// an error that says so, and the transaction runs nothing.
TEST(TransactionsOfLocks, CommandsNotOfferedInsideMultiAbortTheTransaction) {
  auto server = LockerdProcess::Start();
  RedisPtr ours = server->Connect();
  const std::vector<std::string> replies = Pipelined(
      ours.get(), {{"MULTI"}, {"SET", "k", "me", "NX", "PX", "10000"}, {"KEYS", "*"}, {"EXEC"}, {"EXISTS", "k"}});
  EXPECT_EQ(replies[2].rfind("ERR KEYS is not offered inside MULTI", 0), 0u) << replies[2];
  EXPECT_EQ(replies[3], "EXECABORT Transaction discarded because of previous errors.");
  EXPECT_EQ(replies[4], "0");
}

}  // namespace
}  // namespace lockerd::testing
