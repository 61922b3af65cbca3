// DecideWrite's rules for acquiring: LOCK renews for the current owner,
// SET NX (only_if_free) never does, and both take a free key with a token
// above every counter reported. Then one table over every write: who may
// do what to a free, held or expired lease, which token the result keeps,
// that a renewal never shortens a lease, and when a rollback stands down.
#include "cluster/decision.h"

#include <gtest/gtest.h>

#include <ostream>

namespace lockerd::cluster {
namespace {

constexpr int64_t kWallMs = 1'800'000'000'000;

WriteRequest Acquire(const char* owner, bool only_if_free) {
  WriteRequest request;
  request.op = WriteOp::kLock;
  request.key = "k";
  request.owner = owner;
  request.ttl_ms = 5000;
  request.only_if_free = only_if_free;
  return request;
}

Decision Decide(const WriteRequest& request, const LeaseView& lease) {
  return DecideWrite({request, lease, Ballot{1, 0}, 7, kWallMs, 0.01, 60'000});
}

const LeaseView kHeldByWorker{true, "worker", 42, 3000};

TEST(Decision, LockByTheHolderRenewsWithItsToken) {
  const Decision decision = Decide(Acquire("worker", false), kHeldByWorker);
  ASSERT_EQ(decision.kind, Decision::Kind::kCommit);
  EXPECT_EQ(decision.token, 42u);
  EXPECT_EQ(decision.ttl_ms, 5000);
}

TEST(Decision, SetNxByTheHoldersValueIsRefusedAsInRedis) {
  const Decision decision = Decide(Acquire("worker", true), kHeldByWorker);
  EXPECT_EQ(decision.kind, Decision::Kind::kRefuse);
  EXPECT_EQ(decision.holder_token, 42u);
  EXPECT_EQ(decision.holder_remaining_ms, 3000);
}

TEST(Decision, SetNxByAnotherValueIsRefused) {
  EXPECT_EQ(Decide(Acquire("other", true), kHeldByWorker).kind, Decision::Kind::kRefuse);
}

TEST(Decision, SetNxOfAFreeKeyTakesItWithANewToken) {
  const Decision decision = Decide(Acquire("worker", true), LeaseView{});
  ASSERT_EQ(decision.kind, Decision::Kind::kCommit);
  EXPECT_TRUE(decision.held);
  EXPECT_GT(decision.token, 7u);
  EXPECT_EQ(decision.owner, "worker");
}

// The table: every write against a free key, a key held by "worker" (token
// 42, 3000 ms left) and a key whose lease "worker" held but that has ended
// (its member reports it not held). A renewal carries over what the lease
// had, stretched by the drift and a millisecond: 3000 ms left become
// ceil(3000 * 1.01) + 1 = 3031 ms (CarriedOverMs), never less.
constexpr int64_t kKeptMs = 3031;
const LeaseView kFree{};
const LeaseView kEnded{false, "worker", 42, 0};
constexpr Ballot kFailedGrant{5, 1, 0};

enum class Token { kNone, kHolders, kNew };

struct Rule {
  const char* name;
  WriteOp op;
  const char* owner;  // Who writes; UPDATE and SWAP hand the lease to "next".
  int64_t ttl_ms;
  LeaseView lease;
  Decision::Kind kind;
  // kCommit: the state committed.
  bool held = false;
  const char* holder = "";
  Token token = Token::kNone;
  int64_t decided_ttl_ms = 0;
  Ballot chosen = Ballot{1, 0};  // The ballot the lease was accepted at.
};

std::ostream& operator<<(std::ostream& out, const Rule& rule) { return out << rule.name; }

using K = Decision::Kind;

const Rule kRules[] = {
    // LOCK.
    {.name = "LockOfAFreeKeyTakesItWithANewToken", .op = WriteOp::kLock, .owner = "worker",
     .ttl_ms = 5000, .lease = kFree, .kind = K::kCommit, .held = true, .holder = "worker",
     .token = Token::kNew, .decided_ttl_ms = 5000},
    {.name = "LockOfAnEndedLeaseByItsOldOwnerTakesANewToken", .op = WriteOp::kLock,
     .owner = "worker", .ttl_ms = 5000, .lease = kEnded, .kind = K::kCommit, .held = true,
     .holder = "worker", .token = Token::kNew, .decided_ttl_ms = 5000},
    {.name = "LockByAnotherOwnerIsRefused", .op = WriteOp::kLock, .owner = "other", .ttl_ms = 5000,
     .lease = kHeldByWorker, .kind = K::kRefuse},
    {.name = "LockByTheHolderWithAShorterTtlKeepsWhatTheLeaseHad", .op = WriteOp::kLock,
     .owner = "worker", .ttl_ms = 1000, .lease = kHeldByWorker, .kind = K::kCommit, .held = true,
     .holder = "worker", .token = Token::kHolders, .decided_ttl_ms = kKeptMs},
    // EXTEND.
    {.name = "ExtendByTheHolderRenewsWithItsToken", .op = WriteOp::kExtend, .owner = "worker",
     .ttl_ms = 5000, .lease = kHeldByWorker, .kind = K::kCommit, .held = true, .holder = "worker",
     .token = Token::kHolders, .decided_ttl_ms = 5000},
    {.name = "ExtendWithAShorterTtlNeverShortensTheLease", .op = WriteOp::kExtend,
     .owner = "worker", .ttl_ms = 1000, .lease = kHeldByWorker, .kind = K::kCommit, .held = true,
     .holder = "worker", .token = Token::kHolders, .decided_ttl_ms = kKeptMs},
    {.name = "ExtendIsCappedAtMaxLease", .op = WriteOp::kExtend, .owner = "worker", .ttl_ms = 1000,
     .lease = LeaseView{true, "worker", 42, 60'000}, .kind = K::kCommit, .held = true,
     .holder = "worker", .token = Token::kHolders, .decided_ttl_ms = 60'000},
    {.name = "ExtendByAnotherOwnerIsRefused", .op = WriteOp::kExtend, .owner = "other",
     .ttl_ms = 5000, .lease = kHeldByWorker, .kind = K::kRefuse},
    {.name = "ExtendOfAFreeKeyIsRefused", .op = WriteOp::kExtend, .owner = "worker",
     .ttl_ms = 5000, .lease = kFree, .kind = K::kRefuse},
    {.name = "ExtendOfAnEndedLeaseIsRefused", .op = WriteOp::kExtend, .owner = "worker",
     .ttl_ms = 5000, .lease = kEnded, .kind = K::kRefuse},
    // RELEASE.
    {.name = "ReleaseByTheHolderFreesTheKey", .op = WriteOp::kRelease, .owner = "worker",
     .ttl_ms = 0, .lease = kHeldByWorker, .kind = K::kCommit},
    {.name = "ReleaseByAnotherOwnerIsRefused", .op = WriteOp::kRelease, .owner = "other",
     .ttl_ms = 0, .lease = kHeldByWorker, .kind = K::kRefuse},
    {.name = "ReleaseOfAnEndedLeaseIsRefused", .op = WriteOp::kRelease, .owner = "worker",
     .ttl_ms = 0, .lease = kEnded, .kind = K::kRefuse},
    {.name = "ReleaseOfAFreeKeyIsRefused", .op = WriteOp::kRelease, .owner = "worker",
     .ttl_ms = 0, .lease = kFree, .kind = K::kRefuse},
    // UPDATE: the lease changes hands, token and time left kept.
    {.name = "UpdateByTheHolderHandsOverTokenAndTimeLeft", .op = WriteOp::kUpdate,
     .owner = "worker", .ttl_ms = 0, .lease = kHeldByWorker, .kind = K::kCommit, .held = true,
     .holder = "next", .token = Token::kHolders, .decided_ttl_ms = kKeptMs},
    {.name = "UpdateByAnotherOwnerIsRefused", .op = WriteOp::kUpdate, .owner = "other",
     .ttl_ms = 0, .lease = kHeldByWorker, .kind = K::kRefuse},
    {.name = "UpdateOfAnEndedLeaseIsRefused", .op = WriteOp::kUpdate, .owner = "worker",
     .ttl_ms = 0, .lease = kEnded, .kind = K::kRefuse},
    // SWAP (SET key new IFEQ owner): hands over, with a ttl or keeping the time left.
    {.name = "SwapWithoutTtlKeepsTheTimeLeft", .op = WriteOp::kSwap, .owner = "worker",
     .ttl_ms = 0, .lease = kHeldByWorker, .kind = K::kCommit, .held = true, .holder = "next",
     .token = Token::kHolders, .decided_ttl_ms = kKeptMs},
    {.name = "SwapWithALongerTtlTakesIt", .op = WriteOp::kSwap, .owner = "worker",
     .ttl_ms = 10'000, .lease = kHeldByWorker, .kind = K::kCommit, .held = true,
     .holder = "next", .token = Token::kHolders, .decided_ttl_ms = 10'000},
    {.name = "SwapWithAShorterTtlNeverShortensTheLease", .op = WriteOp::kSwap, .owner = "worker",
     .ttl_ms = 1000, .lease = kHeldByWorker, .kind = K::kCommit, .held = true, .holder = "next",
     .token = Token::kHolders, .decided_ttl_ms = kKeptMs},
    {.name = "SwapByAnotherOwnerIsRefused", .op = WriteOp::kSwap, .owner = "other",
     .ttl_ms = 0, .lease = kHeldByWorker, .kind = K::kRefuse},
    // DEL frees whoever holds the key.
    {.name = "DeleteFreesAKeyHeldByAnother", .op = WriteOp::kDelete, .owner = "", .ttl_ms = 0,
     .lease = kHeldByWorker, .kind = K::kCommit},
    {.name = "DeleteOfAFreeKeyIsRefused", .op = WriteOp::kDelete, .owner = "", .ttl_ms = 0,
     .lease = kFree, .kind = K::kRefuse},
    {.name = "DeleteOfAnEndedLeaseIsRefused", .op = WriteOp::kDelete, .owner = "", .ttl_ms = 0,
     .lease = kEnded, .kind = K::kRefuse},
    // ROLLBACK of a grant that failed at kFailedGrant.
    {.name = "RollbackLeavesAKeyALaterWriteDecided", .op = WriteOp::kRollback, .owner = "worker",
     .ttl_ms = 0, .lease = kHeldByWorker, .kind = K::kNothing, .chosen = Ballot{6, 0}},
    {.name = "RollbackFreesTheFailedGrant", .op = WriteOp::kRollback, .owner = "worker",
     .ttl_ms = 0, .lease = kHeldByWorker, .kind = K::kCommit, .chosen = kFailedGrant},
    {.name = "RollbackFreesAKeyDecidedBelowTheFailedGrant", .op = WriteOp::kRollback,
     .owner = "worker", .ttl_ms = 0, .lease = kFree, .kind = K::kCommit, .chosen = Ballot{4, 2}},
};

class DecisionRules : public ::testing::TestWithParam<Rule> {};

TEST_P(DecisionRules, DecidesAsTheRuleSays) {
  const Rule& rule = GetParam();
  WriteRequest request;
  request.op = rule.op;
  request.key = "k";
  request.owner = rule.owner;
  request.new_owner = "next";
  request.ttl_ms = rule.ttl_ms;
  request.rollback_ballot = kFailedGrant;
  constexpr uint64_t kCounterMax = 7;
  const Decision decision =
      DecideWrite({request, rule.lease, rule.chosen, kCounterMax, kWallMs, 0.01, 60'000});
  ASSERT_EQ(decision.kind, rule.kind);
  if (rule.kind == K::kRefuse && rule.op == WriteOp::kLock) {
    // A refused LOCK tells its waiters whose lease to wait out.
    EXPECT_EQ(decision.holder_token, rule.lease.token);
    EXPECT_EQ(decision.holder_remaining_ms, rule.lease.remaining_ms);
  }
  if (rule.kind != K::kCommit) return;
  EXPECT_EQ(decision.held, rule.held);
  EXPECT_EQ(decision.owner, rule.holder);
  EXPECT_EQ(decision.ttl_ms, rule.decided_ttl_ms);
  switch (rule.token) {
    case Token::kNone:
      EXPECT_EQ(decision.token, 0u);
      break;
    case Token::kHolders:
      EXPECT_EQ(decision.token, rule.lease.token);
      break;
    case Token::kNew:
      // Above every token reported, the ended lease's included: fencing
      // tokens only grow.
      EXPECT_GT(decision.token, kCounterMax);
      EXPECT_GT(decision.token, rule.lease.token);
      break;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryWrite, DecisionRules, ::testing::ValuesIn(kRules),
                         [](const ::testing::TestParamInfo<Rule>& rule) { return rule.param.name; });

}  // namespace
}  // namespace lockerd::cluster
