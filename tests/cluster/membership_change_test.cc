// Membership change through the members' own messages (node_membership.cc;
// CLUSTER-SAFETY.md, "Membership change"): five nodes on a lossless
// in-order network, of which the first configuration has three voters. The
// simulator and the explorer run the same code under faults; these tests
// pin the protocol's steps and the scenario each rule is there for.
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/cluster/membership_net.h"

namespace lockerd::cluster {
namespace {

using Kind = MembershipRequest::Kind;

TEST(MembershipRules, OneVoterAtATime) {
  std::string why;
  const Membership three = Membership::Initial(3);
  EXPECT_EQ(ApplyMembershipRequest(three, {1, Kind::kAddVoter, 3}, &why), Config(2, 0b1111));
  EXPECT_EQ(ApplyMembershipRequest(three, {1, Kind::kAddLearner, 4}, &why), Config(2, 0b111, 0b10000));
  EXPECT_EQ(ApplyMembershipRequest(three, {1, Kind::kRemove, 0}, &why), Config(2, 0b110));
  EXPECT_EQ(ApplyMembershipRequest(three, {1, Kind::kDemote, 2}, &why), Config(2, 0b11, 0b100));
  EXPECT_EQ(ApplyMembershipRequest(Config(4, 0b11, 0b100), {1, Kind::kPromote, 2}, &why), Config(5, 0b111));
  EXPECT_FALSE(ApplyMembershipRequest(three, {1, Kind::kAddVoter, 1}, &why));
  EXPECT_EQ(why, "member 1 is already a voter");
  EXPECT_FALSE(ApplyMembershipRequest(Membership::Initial(1), {1, Kind::kRemove, 0}, &why));
  EXPECT_EQ(why, "member 0 is the last voter");
  EXPECT_FALSE(ApplyMembershipRequest(three, {1, Kind::kPromote, 1}, &why));
  EXPECT_EQ(why, "member 1 is not a learner");
  EXPECT_FALSE(ApplyMembershipRequest(three, {1, Kind::kAddVoter, kMembersMax}, &why));
  for (const Kind kind : {Kind::kAddVoter, Kind::kAddLearner, Kind::kRemove, Kind::kPromote, Kind::kDemote}) {
    for (MemberId member = 0; member < 5; ++member) {
      const auto next = ApplyMembershipRequest(Config(7, 0b1011, 0b100), {1, kind, member}, &why);
      if (next) {
        EXPECT_TRUE(OneVoterApart(Config(7, 0b1011, 0b100), *next));
      }
    }
  }
  EXPECT_FALSE(OneVoterApart(three, Config(2, 0b11000))) << "two voters out and two in at once";
}

TEST(MembershipChange, AMemberJoinsAndEveryMemberAdoptsTheNewConfiguration) {
  MembershipNet cluster;
  ASSERT_EQ(cluster.Lock(0, "k", "a").outcome, WriteOutcome::kDone);
  const WriteResult added = cluster.Change(1, Kind::kAddVoter, 3);
  ASSERT_EQ(added.outcome, WriteOutcome::kDone) << added.detail;
  for (size_t i = 0; i < 4; ++i) {
    for (int step = 0; step < 50; ++step) cluster.Step();
    EXPECT_EQ(cluster.node(i).membership(), Config(2, 0b1111)) << "member " << i;
  }
  const MembershipState& state = cluster.node(1).membership_state();
  EXPECT_TRUE(state.value.settled) << "the change was settled before it was answered";
  EXPECT_EQ(state.value.previous_voters, 0b111u);
  const Register* copied = cluster.node(3).table().Find("k");
  ASSERT_NE(copied, nullptr) << "the old voters wrote their keys again: the newcomer holds them";
  EXPECT_TRUE(copied->held);
  EXPECT_EQ(cluster.node(4).membership().epoch, 1u) << "not a member: not told";
}

TEST(MembershipChange, ARequestThatMakesNoSenseIsRefusedWithWhy) {
  MembershipNet cluster;
  const WriteResult twice = cluster.Change(0, Kind::kAddVoter, 1);
  EXPECT_EQ(twice.outcome, WriteOutcome::kRefused);
  EXPECT_EQ(twice.detail, "member 1 is already a voter");
  EXPECT_EQ(cluster.node(0).membership().epoch, 1u);
}

TEST(MembershipChange, AChangeWhileAnotherRunsOnTheSameMemberIsRefused) {
  MembershipNet cluster;
  MembershipRequest first{1, Kind::kAddVoter, 3};
  cluster.node(0).ChangeMembership(first, cluster.Now());
  MembershipRequest second{2, Kind::kAddVoter, 4};
  cluster.node(0).ChangeMembership(second, cluster.Now());
  const WriteResult refused = cluster.Wait(0, 2);
  EXPECT_EQ(refused.outcome, WriteOutcome::kRefused);
  EXPECT_NE(refused.detail.find("already in progress"), std::string::npos) << refused.detail;
  EXPECT_EQ(cluster.Wait(0, 1).outcome, WriteOutcome::kDone);
}

TEST(MembershipChange, RacingChangesBothLandOneAfterTheOther) {
  MembershipNet cluster;
  MembershipRequest add3{1, Kind::kAddVoter, 3};
  MembershipRequest add4{2, Kind::kAddLearner, 4};
  cluster.node(0).ChangeMembership(add3, cluster.Now());
  cluster.node(2).ChangeMembership(add4, cluster.Now());
  EXPECT_EQ(cluster.Wait(0, 1).outcome, WriteOutcome::kDone);
  EXPECT_EQ(cluster.Wait(2, 2).outcome, WriteOutcome::kDone);
  for (int step = 0; step < 50; ++step) cluster.Step();
  EXPECT_EQ(cluster.node(1).membership(), Config(3, 0b1111, 0b10000));
}

// The scenario the settling is for: a lease accepted by two of three
// voters only, then a voter added and the two that hold it removed one by
// one. Without the catch-up the last configuration's majority never saw
// the lease, and grants it again.
void GrowThenShrinkPastTheHolders(MembershipNet& cluster, WriteOutcome expected_second_lock) {
  cluster.Cut(2);
  ASSERT_EQ(cluster.Lock(0, "k", "first").outcome, WriteOutcome::kDone);
  cluster.Heal(2);
  ASSERT_EQ(cluster.Change(1, Kind::kAddVoter, 3).outcome, WriteOutcome::kDone);
  ASSERT_EQ(cluster.Change(1, Kind::kRemove, 0).outcome, WriteOutcome::kDone);
  ASSERT_EQ(cluster.Change(2, Kind::kRemove, 1).outcome, WriteOutcome::kDone);
  for (int step = 0; step < 10; ++step) cluster.Step();  // The news reaches member 3.
  EXPECT_EQ(cluster.node(3).membership().voters, 0b1100u);
  EXPECT_EQ(cluster.Lock(3, "k", "second").outcome, expected_second_lock);
}

TEST(MembershipChange, ALeaseOnTheRemovedMembersOnlyStaysHeld) {
  MembershipNet cluster;
  GrowThenShrinkPastTheHolders(cluster, WriteOutcome::kRefused);
}

TEST(MembershipChange, WithoutSettlingTheLeaseIsGrantedTwice) {
  BrokenRules broken;
  broken.change_without_settling = true;
  MembershipNet cluster(5, 3, broken);
  GrowThenShrinkPastTheHolders(cluster, WriteOutcome::kDone);
}

TEST(MembershipChange, TokensKeepGrowingAfterTheMembersThatIssuedThemLeave) {
  MembershipNet cluster;
  cluster.Cut(2);
  const WriteResult first = cluster.Lock(0, "k", "first");
  ASSERT_EQ(first.outcome, WriteOutcome::kDone);
  WriteRequest release;
  release.request_id = 99;
  release.op = WriteOp::kRelease;
  release.key = "k";
  release.owner = "first";
  cluster.node(0).Submit(release, cluster.Now());
  ASSERT_EQ(cluster.Wait(0, 99).outcome, WriteOutcome::kDone);
  cluster.Heal(2);
  ASSERT_EQ(cluster.Change(1, Kind::kAddVoter, 3).outcome, WriteOutcome::kDone);
  ASSERT_EQ(cluster.Change(1, Kind::kRemove, 0).outcome, WriteOutcome::kDone);
  ASSERT_EQ(cluster.Change(2, Kind::kRemove, 1).outcome, WriteOutcome::kDone);
  const WriteResult next = cluster.Lock(3, "other", "next");
  ASSERT_EQ(next.outcome, WriteOutcome::kDone);
  EXPECT_GT(next.token, first.token);
}

TEST(MembershipChange, AMemberAloneGrowsToThreeAndBackToOne) {
  MembershipNet cluster(3, 1);
  ASSERT_EQ(cluster.Lock(0, "k", "a").outcome, WriteOutcome::kDone);
  ASSERT_EQ(cluster.Change(0, Kind::kAddVoter, 1).outcome, WriteOutcome::kDone);
  ASSERT_EQ(cluster.Change(0, Kind::kAddVoter, 2).outcome, WriteOutcome::kDone);
  ASSERT_EQ(cluster.Change(1, Kind::kRemove, 0).outcome, WriteOutcome::kDone);
  ASSERT_EQ(cluster.Change(2, Kind::kRemove, 1).outcome, WriteOutcome::kDone);
  EXPECT_EQ(cluster.node(2).membership().voters, 0b100u);
  EXPECT_EQ(cluster.Lock(2, "k", "b").outcome, WriteOutcome::kRefused) << "the lease moved with the voters";
  EXPECT_EQ(cluster.Lock(2, "j", "b").outcome, WriteOutcome::kDone);
}

TEST(MembershipChange, AMemberThatMissedTheChangeIsToldByTheRefusalsOfItsRound) {
  MembershipNet cluster;
  cluster.Cut(0);
  ASSERT_EQ(cluster.Change(1, Kind::kAddVoter, 3).outcome, WriteOutcome::kDone);
  cluster.Heal(0);
  EXPECT_EQ(cluster.node(0).membership().epoch, 1u) << "it missed the change";
  // Its round runs under epoch 1: the members that adopted epoch 2 refuse
  // it and tell it; the retry runs under epoch 2.
  const WriteResult locked = cluster.Lock(0, "k", "a");
  EXPECT_EQ(locked.outcome, WriteOutcome::kDone) << locked.detail;
  EXPECT_EQ(cluster.node(0).membership(), Config(2, 0b1111));
  EXPECT_GT(cluster.node(1).stale_epoch_refusals() + cluster.node(2).stale_epoch_refusals(), 0u);
  EXPECT_NE(cluster.node(3).table().Find("k"), nullptr) << "the retry asked the new voter too";
}

}  // namespace
}  // namespace lockerd::cluster
