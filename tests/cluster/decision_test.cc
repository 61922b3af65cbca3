// DecideWrite's rules for acquiring: LOCK renews for the current owner,
// SET NX (only_if_free) never does, and both take a free key with a token
// above every counter reported.
#include "cluster/decision.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace lockerd::cluster
