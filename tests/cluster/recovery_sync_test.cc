// The recovering member's side of recovery without stable storage
// (cluster/recovery_sync.h): whose answers count, when a majority of the
// others is reached, and when it never can be.
#include "cluster/recovery_sync.h"

#include <gtest/gtest.h>

namespace lockerd::cluster {
namespace {

SyncReply Answer(uint64_t nonce, uint64_t counter = 0, Ballot highest = {}) {
  return {nonce, false, counter, highest, /*pristine=*/counter == 0 && highest.round == 0};
}

SyncReply Recovering(uint64_t nonce) { return {nonce, true, 0, {}, false}; }

TEST(RecoverySync, AsksOnlyAfterItsDelayAndCountsOnlyAnswersToThisRunsRequests) {
  RecoverySync sync(Membership::Initial(5).voters, 0, /*run_id=*/77, /*delay_ms=*/1000, /*retry_ms=*/500);
  sync.Begin(0, RecoverySync::Kind::kLostMemory);
  EXPECT_FALSE(sync.RequestsDue(999));
  EXPECT_TRUE(sync.RequestsDue(1000));
  EXPECT_FALSE(sync.OnReply(1, Answer(sync.nonce()))) << "before any request went out";
  sync.RequestsSent(1000);
  EXPECT_FALSE(sync.OnReply(1, Answer(sync.nonce() + 1))) << "another recovery's answer";
  RecoverySync other_run(5, 0, /*run_id=*/78, 1000, 500);
  other_run.Begin(0, RecoverySync::Kind::kLostMemory);
  EXPECT_NE(other_run.nonce(), sync.nonce()) << "every run has nonces of its own";
  EXPECT_TRUE(sync.OnReply(1, Answer(sync.nonce(), 5, {9, 1})));
  EXPECT_FALSE(sync.OnReply(0, Answer(sync.nonce()))) << "not itself";
}

TEST(RecoverySync, RecoveringMembersNeverCount) {
  // Five members: a majority of the four others is three.
  RecoverySync sync(Membership::Initial(5).voters, 0, 1, 0, 500);
  sync.Begin(0, RecoverySync::Kind::kLostMemory);
  sync.RequestsSent(0);
  sync.OnReply(1, Recovering(sync.nonce()));
  sync.OnReply(2, Answer(sync.nonce()));
  sync.OnReply(3, Answer(sync.nonce()));
  EXPECT_FALSE(sync.Complete()) << "two that remember are not a majority of the others";
  EXPECT_FALSE(sync.Hopeless()) << "member 4 may yet answer";
  sync.OnReply(4, Answer(sync.nonce()));
  EXPECT_TRUE(sync.Complete());
  // Member 1 recovered since: its last word counts.
  sync.OnReply(1, Answer(sync.nonce()));
  EXPECT_EQ(sync.recovering_count(), 0u);
  EXPECT_EQ(sync.answered_count(), 4u);
}

TEST(RecoverySync, HopelessWhenTheRecoveringLeaveNoMajorityOfTheOthers) {
  RecoverySync three(Membership::Initial(3).voters, 0, 1, 0, 500);  // Two of three lost their memory.
  three.Begin(0, RecoverySync::Kind::kLostMemory);
  three.RequestsSent(0);
  three.OnReply(1, Recovering(three.nonce()));
  EXPECT_TRUE(three.Hopeless());
  RecoverySync five(Membership::Initial(5).voters, 0, 1, 0, 500);  // Two of five: not hopeless...
  five.Begin(0, RecoverySync::Kind::kLostMemory);
  five.RequestsSent(0);
  five.OnReply(1, Recovering(five.nonce()));
  EXPECT_FALSE(five.Hopeless());
  five.OnReply(2, Recovering(five.nonce()));  // ...three of five: hopeless.
  EXPECT_TRUE(five.Hopeless());
}

TEST(RecoverySync, StaysHopelessWhenAnotherRecoversFirst) {
  // Three members, one down for good, two restarted without their state:
  // the one whose quarantine ends first falls back and answers again. The
  // other would wait for the member that is down for ever.
  RecoverySync sync(Membership::Initial(3).voters, 0, 1, 0, 500);
  sync.Begin(0, RecoverySync::Kind::kLostMemory);
  sync.RequestsSent(0);
  sync.OnReply(1, Recovering(sync.nonce()));
  ASSERT_TRUE(sync.Hopeless());
  EXPECT_TRUE(sync.OnReply(1, Answer(sync.nonce(), 1'800'000'000'000'000, {1'800'000'000'000'000, 1})));
  EXPECT_FALSE(sync.Complete());
  EXPECT_TRUE(sync.Hopeless()) << "it still falls back once its own quarantine is over";
  sync.Begin(600, RecoverySync::Kind::kLostMemory);
  EXPECT_FALSE(sync.Hopeless()) << "a new recovery asks again";
}

TEST(RecoverySync, AFirstStartSeesWhetherTheClusterHasHistory) {
  RecoverySync sync(Membership::Initial(3).voters, 0, 1, 0, 500);
  sync.Begin(0, RecoverySync::Kind::kFirstStart);
  EXPECT_FALSE(sync.lost_memory()) << "it answers others with what it has";
  sync.RequestsSent(0);
  sync.OnReply(1, Answer(sync.nonce()));
  sync.OnReply(2, Answer(sync.nonce()));
  EXPECT_TRUE(sync.Complete());
  EXPECT_FALSE(sync.history_seen()) << "a new cluster";
  sync.Begin(0, RecoverySync::Kind::kFirstStart);
  sync.RequestsSent(0);
  sync.OnReply(1, Answer(sync.nonce()));
  sync.OnReply(2, Answer(sync.nonce(), 0, {3, 1}));
  EXPECT_TRUE(sync.history_seen()) << "a ballot was promised: this member lost its disk";
}

}  // namespace
}  // namespace lockerd::cluster
