#include "cluster/quorum.h"

#include <gtest/gtest.h>

#include <vector>

#include "cluster/membership.h"

namespace lockerd::cluster {
namespace {

TEST(Quorum, MajorityOf) {
  EXPECT_EQ(MajorityOf(1), 1u);
  EXPECT_EQ(MajorityOf(2), 2u);
  EXPECT_EQ(MajorityOf(3), 2u);
  EXPECT_EQ(MajorityOf(4), 3u);
  EXPECT_EQ(MajorityOf(5), 3u);
}

TEST(Quorum, TallyCountsEachMemberOnce) {
  QuorumTally tally = QuorumTally::Of(0b11111);
  EXPECT_TRUE(tally.RecordYes(0));
  EXPECT_FALSE(tally.RecordYes(0));
  EXPECT_FALSE(tally.RecordNo(0)) << "a member that answered cannot change its answer";
  EXPECT_FALSE(tally.RecordYes(5)) << "not a member";
  EXPECT_TRUE(tally.RecordYes(1));
  EXPECT_FALSE(tally.Reached());
  EXPECT_TRUE(tally.RecordYes(4));
  EXPECT_TRUE(tally.Reached());
}

TEST(Quorum, ImpossibleOnceEnoughSayNo) {
  QuorumTally tally = QuorumTally::Of(0b111);
  tally.RecordNo(0);
  EXPECT_FALSE(tally.Impossible());
  tally.RecordNo(2);
  EXPECT_TRUE(tally.Impossible());
}

// Ids stay a member's own through membership changes, so voters need not
// be 0..N-1: a cluster that replaced member 1 by member 3 counts 0, 2, 3.
TEST(Quorum, TallyCountsOnlyTheVotersOfItsConfiguration) {
  QuorumTally tally = QuorumTally::Of(0b1101);
  EXPECT_EQ(tally.members_count(), 3u);
  EXPECT_EQ(tally.majority(), 2u);
  EXPECT_FALSE(tally.RecordYes(1)) << "member 1 left: its vote does not count";
  EXPECT_TRUE(tally.RecordYes(3));
  EXPECT_FALSE(tally.Reached());
  EXPECT_TRUE(tally.RecordNo(2));
  EXPECT_FALSE(tally.Impossible());
  EXPECT_TRUE(tally.RecordYes(0));
  EXPECT_TRUE(tally.Reached());
}

TEST(Membership, InitialListsEveryMemberAsAVoter) {
  const Membership three = Membership::Initial(3);
  EXPECT_EQ(three.epoch, 1u);
  EXPECT_EQ(three.voters, 0b111u);
  EXPECT_EQ(three.majority(), 2u);
  EXPECT_TRUE(three.Valid());
  EXPECT_FALSE(three.Alone(0));
  EXPECT_TRUE(Membership::Initial(1).Alone(0));
  Membership with_learner = Membership::Initial(1);
  with_learner.learners = 0b10;
  EXPECT_FALSE(with_learner.Alone(0)) << "a learner must hear of every write";
  EXPECT_TRUE(with_learner.IsLearner(1));
  EXPECT_FALSE(with_learner.IsVoter(1));
  Membership both = with_learner;
  both.voters |= 0b10;
  EXPECT_FALSE(both.Valid()) << "a member is a voter or a learner, not both";
  std::vector<MemberId> visited;
  ForEachMember(0b101001, [&](MemberId member) { visited.push_back(member); });
  EXPECT_EQ(visited, (std::vector<MemberId>{0, 3, 5}));
}

}  // namespace
}  // namespace lockerd::cluster
