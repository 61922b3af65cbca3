// A member alone: every write completes within the call that submits it,
// through the same round a cluster uses.
#include "cluster/node.h"

#include <gtest/gtest.h>

namespace lockerd::cluster {
namespace {

constexpr int64_t kWallMs = 1'700'000'000'000;

class NodeTest : public ::testing::Test {
 protected:
  static NodeOptions Options() {
    NodeOptions options;
    options.max_lease_ms = 10'000;
    return options;
  }

  WriteResult Write(WriteOp op, const char* key, const char* owner, int64_t ttl_ms = 1000,
                    const char* new_owner = "") {
    WriteRequest request;
    request.request_id = ++next_id_;
    request.op = op;
    request.key = key;
    request.owner = owner;
    request.new_owner = new_owner;
    request.ttl_ms = ttl_ms;
    node_.Submit(request, now_);
    std::vector<WriteResult> results;
    node_.TakeResults(&results);
    EXPECT_EQ(results.size(), 1u) << "a member alone answers at once";
    std::vector<Message> outbox;
    node_.TakeOutbox(&outbox);
    EXPECT_TRUE(outbox.empty()) << "nothing to send to peers";
    return results.empty() ? WriteResult{} : results[0];
  }

  void Advance(int64_t ms) {
    now_.mono_ms += ms;
    now_.wall_ms += ms;
    node_.Tick(now_);
  }

  Node node_{Options()};
  Time now_{1000, kWallMs};
  uint64_t next_id_ = 0;
};

TEST_F(NodeTest, LockExtendRelease) {
  const WriteResult lock = Write(WriteOp::kLock, "k", "me");
  ASSERT_EQ(lock.outcome, WriteOutcome::kDone);
  EXPECT_GE(lock.token, kWallMs * 1000) << "token floor from the wall clock";
  EXPECT_EQ(Write(WriteOp::kLock, "k", "other").outcome, WriteOutcome::kRefused);
  const WriteResult again = Write(WriteOp::kLock, "k", "me", 2000);
  EXPECT_EQ(again.token, lock.token) << "idempotent acquire";
  EXPECT_EQ(node_.table().FindHeld("k", now_.mono_ms)->RemainingMs(now_.mono_ms), 2000);
  EXPECT_EQ(Write(WriteOp::kExtend, "k", "other").outcome, WriteOutcome::kRefused);
  EXPECT_EQ(Write(WriteOp::kExtend, "k", "me", 5000).token, lock.token);
  EXPECT_EQ(Write(WriteOp::kRelease, "k", "other").outcome, WriteOutcome::kRefused);
  EXPECT_EQ(Write(WriteOp::kRelease, "k", "me").outcome, WriteOutcome::kDone);
  EXPECT_EQ(Write(WriteOp::kRelease, "k", "me").outcome, WriteOutcome::kRefused);
  EXPECT_EQ(node_.table().FindHeld("k", now_.mono_ms), nullptr);
}

TEST_F(NodeTest, TokensGrowAcrossHoldersEvenWhenTheWallClockStepsBack) {
  uint64_t last = 0;
  for (int i = 0; i < 50; ++i) {
    const WriteResult lock = Write(WriteOp::kLock, "k", i % 2 ? "a" : "b");
    ASSERT_EQ(lock.outcome, WriteOutcome::kDone);
    EXPECT_GT(lock.token, last);
    last = lock.token;
    Write(WriteOp::kRelease, "k", i % 2 ? "a" : "b");
    now_.wall_ms -= 1000;  // Stepped back by NTP: changes nothing.
  }
}

TEST_F(NodeTest, LeaseExpiresOnTheMonotonicClock) {
  node_.WatchKey("k");
  Write(WriteOp::kLock, "k", "me", 300);
  Advance(300);
  EXPECT_NE(node_.table().FindHeld("k", now_.mono_ms), nullptr) << "a full 300 ms";
  EXPECT_EQ(node_.NextWakeMs(), 1301);
  Advance(1);
  EXPECT_EQ(node_.table().FindHeld("k", now_.mono_ms), nullptr);
  EXPECT_EQ(node_.TakeFreedKeys(), std::vector<std::string>{"k"});
  EXPECT_EQ(Write(WriteOp::kLock, "k", "other").outcome, WriteOutcome::kDone);
}

TEST_F(NodeTest, UpdateHandsOverKeepingTokenAndDeadline) {
  const WriteResult lock = Write(WriteOp::kLock, "k", "me", 1000);
  Advance(400);
  const WriteResult update = Write(WriteOp::kUpdate, "k", "me", 0, "you");
  EXPECT_EQ(update.outcome, WriteOutcome::kDone);
  EXPECT_EQ(update.token, lock.token);
  const Register* reg = node_.table().FindHeld("k", now_.mono_ms);
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(reg->owner, "you");
  EXPECT_EQ(reg->RemainingMs(now_.mono_ms), 607) << "600 left, carried over with its margin";
  EXPECT_EQ(Write(WriteOp::kUpdate, "k", "me", 0, "x").outcome, WriteOutcome::kRefused);
}

TEST_F(NodeTest, DeleteFreesWhoeverHolds) {
  Write(WriteOp::kLock, "k", "me");
  EXPECT_EQ(Write(WriteOp::kDelete, "k", "").outcome, WriteOutcome::kDone);
  EXPECT_EQ(Write(WriteOp::kDelete, "k", "").outcome, WriteOutcome::kRefused);
}

TEST_F(NodeTest, QuarantineAnswersTryAgainUntilLeasesCouldHaveEnded) {
  node_.StartQuarantine(now_);
  const WriteResult refused = Write(WriteOp::kLock, "k", "me");
  EXPECT_EQ(refused.outcome, WriteOutcome::kTryAgain);
  // max-lease-ms * (1 + drift) + round timeout = 10000 * 1.01 + 500.
  EXPECT_EQ(node_.quarantine_until_ms(), now_.mono_ms + 10'600);
  Advance(10'599);
  EXPECT_EQ(Write(WriteOp::kLock, "k", "me").outcome, WriteOutcome::kTryAgain);
  Advance(1);
  EXPECT_EQ(Write(WriteOp::kLock, "k", "me").outcome, WriteOutcome::kDone);
}

// Results come out in one fixed order, whatever order the writes were
// submitted or finished in: the single-key rounds', then the transactions'
// (node.cc says why). A member of three that hears from no one times both
// out in the same Tick.
TEST(NodeResults, SingleKeyRoundsComeBeforeTransactionsAndReplaceWhatWasThere) {
  NodeOptions options;
  options.membership = cluster::Membership::Initial(3);
  options.round_timeout_ms = 100;
  Node node(options);
  const Time start{1000, kWallMs};
  TxnRequest txn;
  txn.request_id = 1;
  txn.keys = {"t"};
  txn.body = [](const TxnView&) { return std::vector<TxnWrite>(1); };
  node.SubmitTxn(std::move(txn), start);
  WriteRequest lock;
  lock.request_id = 2;
  lock.op = WriteOp::kLock;
  lock.key = "k";
  lock.owner = "me";
  lock.ttl_ms = 1000;
  node.Submit(lock, start);
  node.Tick({start.mono_ms + 200, start.wall_ms + 200});
  std::vector<WriteResult> results = {WriteResult{99, WriteOutcome::kDone, 0, 0, {}}};
  node.TakeResults(&results);
  ASSERT_EQ(results.size(), 2u) << "what `results` held before is replaced";
  EXPECT_EQ(results[0].request_id, 2u) << "the single-key round's first";
  EXPECT_EQ(results[1].request_id, 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum);
  EXPECT_EQ(results[1].outcome, WriteOutcome::kNoQuorum);
}

// Restarts are tested in node_restart_test.cc.

}  // namespace
}  // namespace lockerd::cluster
