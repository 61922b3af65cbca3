#include "cluster/quorum.h"

#include <gtest/gtest.h>

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
  QuorumTally tally(5);
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
  QuorumTally tally(3);
  tally.RecordNo(0);
  EXPECT_FALSE(tally.Impossible());
  tally.RecordNo(2);
  EXPECT_TRUE(tally.Impossible());
}

}  // namespace
}  // namespace lockerd::cluster
