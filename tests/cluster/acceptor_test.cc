// The member's rules, one message at a time (CLUSTER-SAFETY.md steps 1, 3).
#include "cluster/acceptor.h"

#include <gtest/gtest.h>

namespace lockerd::cluster {
namespace {

class AcceptorTest : public ::testing::Test {
 protected:
  Promise Prepare(const char* key, Ballot ballot, int64_t now_ms = 0) {
    return acceptor_.OnPrepare({1, key, ballot}, now_ms);
  }
  Accepted Accept(const char* key, Ballot ballot, bool held, const char* owner, uint64_t token,
                  int64_t ttl_ms, int64_t now_ms = 0) {
    return acceptor_.OnAccept({1, key, ballot, held, owner, token, ttl_ms, {}}, now_ms);
  }

  LeaseTable table_{0};
  Acceptor acceptor_{&table_};
};

TEST_F(AcceptorTest, PromisesOnlyAboveEveryBallotSeen) {
  EXPECT_EQ(Prepare("k", {5, 1}).vote, Vote::kYes);
  const Promise lower = Prepare("k", {4, 2});
  EXPECT_EQ(lower.vote, Vote::kNo);
  EXPECT_EQ(lower.highest, (Ballot{5, 1}));
  EXPECT_EQ(Prepare("k", {5, 1}).vote, Vote::kNo) << "equal is not above";
  EXPECT_EQ(Prepare("k", {5, 2}).vote, Vote::kYes) << "member id breaks the tie";
}

TEST_F(AcceptorTest, PromiseCarriesTheAcceptedLease) {
  Prepare("k", {1, 0});
  ASSERT_EQ(Accept("k", {1, 0}, true, "me", 42, 1000).vote, Vote::kYes);
  const Promise promise = Prepare("k", {2, 0}, 300);
  EXPECT_EQ(promise.accepted, (Ballot{1, 0}));
  EXPECT_TRUE(promise.lease.held);
  EXPECT_EQ(promise.lease.owner, "me");
  EXPECT_EQ(promise.lease.token, 42u);
  EXPECT_EQ(promise.lease.remaining_ms, 700) << "a duration, never a clock reading";
  EXPECT_EQ(promise.token_counter, 42u);
}

TEST_F(AcceptorTest, APeekReportsTheRegisterAndPromisesNothing) {
  Prepare("k", {1, 0});
  ASSERT_EQ(Accept("k", {1, 0}, true, "me", 42, 1000).vote, Vote::kYes);
  const Promise peek = acceptor_.OnPrepare({1, "k", {9, 2}, /*peek=*/true}, 300);
  EXPECT_EQ(peek.vote, Vote::kYes);
  EXPECT_EQ(peek.accepted, (Ballot{1, 0}));
  EXPECT_EQ(peek.lease.owner, "me");
  EXPECT_EQ(peek.lease.remaining_ms, 700);
  // Ballot 9 was not promised: a commit at ballot 2 still lands.
  EXPECT_EQ(Prepare("k", {2, 0}).vote, Vote::kYes);
  EXPECT_EQ(Accept("k", {2, 0}, false, "", 0, 0).vote, Vote::kYes);
  // A key it never saw is reported free, and not created.
  const Promise unknown = acceptor_.OnPrepare({1, "new", {9, 2}, true}, 300);
  EXPECT_EQ(unknown.vote, Vote::kYes);
  EXPECT_FALSE(unknown.lease.held);
  EXPECT_EQ(table_.Find("new"), nullptr);
}

TEST_F(AcceptorTest, LateCommitAfterAHigherPromiseIsRefused) {
  // Race 1: a promise times out, a competitor promises higher, then the first
  // coordinator's commit arrives.
  Prepare("k", {1, 0});
  Prepare("k", {2, 1});
  const Accepted late = Accept("k", {1, 0}, true, "first", 1, 1000);
  EXPECT_EQ(late.vote, Vote::kNo);
  EXPECT_EQ(late.highest, (Ballot{2, 1}));
  EXPECT_EQ(table_.FindHeld("k", 0), nullptr);
}

TEST_F(AcceptorTest, DuplicateCommitChangesNothing) {
  // Race 3: a duplicated commit must not restart or revive the lease.
  Prepare("k", {1, 0});
  Accept("k", {1, 0}, true, "me", 1, 100, 0);
  EXPECT_EQ(Accept("k", {1, 0}, true, "me", 1, 100, 50).vote, Vote::kYes);
  EXPECT_EQ(table_.Find("k")->deadline_ms, 100) << "not restarted";
  EXPECT_EQ(Accept("k", {1, 0}, true, "me", 1, 100, 150).vote, Vote::kYes);
  EXPECT_EQ(table_.FindHeld("k", 150), nullptr) << "an expired lease is not revived";
}

TEST_F(AcceptorTest, ReorderedCommitsNeverLowerTheRegister) {
  Prepare("k", {2, 0});
  Accept("k", {2, 0}, false, "", 0, 0, 10);  // A release at ballot 2.
  EXPECT_EQ(Accept("k", {1, 0}, true, "old", 1, 1000, 20).vote, Vote::kNo);
  EXPECT_EQ(table_.FindHeld("k", 20), nullptr);
}

TEST_F(AcceptorTest, CommitWithoutPromiseAboveAcceptedIsApplied) {
  // A member that missed the promise still takes a commit at a ballot no
  // lower than anything it has seen (Paxos phase 2 needs no local promise).
  EXPECT_EQ(Accept("k", {3, 0}, true, "me", 9, 100).vote, Vote::kYes);
  EXPECT_EQ(acceptor_.token_counter(), 9u);
}

TEST_F(AcceptorTest, QuarantineRefusesToVote) {
  acceptor_.QuarantineUntil(1000);
  const Promise promise = Prepare("k", {1, 0}, 400);
  EXPECT_EQ(promise.vote, Vote::kQuarantined);
  EXPECT_EQ(promise.quarantine_left_ms, 600);
  EXPECT_EQ(Accept("k", {1, 0}, true, "me", 1, 100, 400).vote, Vote::kQuarantined);
  EXPECT_EQ(Prepare("k", {1, 0}, 1000).vote, Vote::kYes) << "votes again once it has passed";
}

TEST_F(AcceptorTest, MalformedPeerCommitIsRefusedNotAsserted) {
  EXPECT_EQ(Accept("k", {1, 0}, true, "me", 1, 0).vote, Vote::kNo);
  EXPECT_EQ(Accept("k", {2, 0}, true, "me", 1, -5).vote, Vote::kNo);
  EXPECT_EQ(acceptor_.stats().malformed, 2u);
}

}  // namespace
}  // namespace lockerd::cluster
