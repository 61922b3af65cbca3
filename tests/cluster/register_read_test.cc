// How a round reads a key from the members' replies, on its own: the
// peek's merge and its end (cluster/peek.h: which second reply agrees with
// a first, what an agreeing one keeps, when a peek waits, acts or gives way
// to the full round), and the full round's promise merge
// (cluster/promise_merge.h: the highest accepted ballot wins, between
// equals the copy with more time left).
#include "cluster/peek.h"
#include "cluster/promise_merge.h"

#include <gtest/gtest.h>

#include <string>

namespace lockerd::cluster {
namespace {

Promise Yes(Ballot accepted, bool held, std::string owner, uint64_t token, int64_t remaining_ms) {
  Promise reply;
  reply.accepted = accepted;
  reply.lease = {held, std::move(owner), token, remaining_ms};
  return reply;
}

const Ballot kB1{1, 0, 0};
const Ballot kB2{2, 1, 0};

TEST(Peek, TheFirstYesSetsTheRegister) {
  bool set = false;
  Ballot ballot;
  LeaseView read;
  EXPECT_TRUE(MergePeekYes(Yes(kB1, true, "a", 7, 500), &set, &ballot, &read));
  EXPECT_TRUE(set);
  EXPECT_EQ(ballot, kB1);
  EXPECT_TRUE(read.held);
  EXPECT_EQ(read.owner, "a");
  EXPECT_EQ(read.token, 7u);
  EXPECT_EQ(read.remaining_ms, 500);
}

// A second reply after a first of (kB1, held by "a" with token 7, 500 ms
// left): does it agree, and what is read after it.
TEST(Peek, ASecondYesAgreesOnlyOnTheSameStateAndKeepsTheLeastTimeLeft) {
  struct Case {
    const char* what;
    Promise second;
    bool agrees;
    int64_t remaining_ms_after;
  };
  const Case cases[] = {
      {"same state, less left", Yes(kB1, true, "a", 7, 300), true, 300},
      {"same state, more left", Yes(kB1, true, "a", 7, 900), true, 500},
      {"another accepted ballot", Yes(kB2, true, "a", 7, 500), false, 500},
      {"another step of the ballot", Yes(kB1.NextStep(), true, "a", 7, 500), false, 500},
      {"another holder", Yes(kB1, true, "b", 7, 500), false, 500},
      {"another token", Yes(kB1, true, "a", 8, 500), false, 500},
      {"free", Yes(kB1, false, "", 0, 0), false, 500},
  };
  for (const Case& c : cases) {
    bool set = false;
    Ballot ballot;
    LeaseView read;
    ASSERT_TRUE(MergePeekYes(Yes(kB1, true, "a", 7, 500), &set, &ballot, &read));
    EXPECT_EQ(MergePeekYes(c.second, &set, &ballot, &read), c.agrees) << c.what;
    EXPECT_EQ(ballot, kB1) << c.what << ": the first register stays";
    EXPECT_EQ(read.owner, "a") << c.what;
    EXPECT_EQ(read.token, 7u) << c.what;
    EXPECT_EQ(read.remaining_ms, c.remaining_ms_after) << c.what;
  }
}

TEST(Peek, FreeRegistersAgreeOnTheirBallot) {
  bool set = false;
  Ballot ballot;
  LeaseView read;
  ASSERT_TRUE(MergePeekYes(Yes(kB1, false, "", 0, 0), &set, &ballot, &read));
  EXPECT_TRUE(MergePeekYes(Yes(kB1, false, "", 0, 0), &set, &ballot, &read));
  EXPECT_FALSE(MergePeekYes(Yes(Ballot{}, false, "", 0, 0), &set, &ballot, &read))
      << "a member that never saw the key's last write";
}

// Three members: the peek's step after each tally.
TEST(Peek, WaitsActsOrGivesWayToTheFullRound) {
  struct Case {
    const char* what;
    int yes;
    int no;
    bool agree;
    PeekStep step;
  };
  const Case cases[] = {
      {"one yes", 1, 0, true, PeekStep::kWait},
      {"one yes, one no", 1, 1, true, PeekStep::kWait},
      {"a majority agrees", 2, 0, true, PeekStep::kAgreed},
      {"all agree", 3, 0, true, PeekStep::kAgreed},
      {"a majority, disagreeing", 2, 0, false, PeekStep::kFullRound},
      {"one yes, disagreeing", 1, 0, false, PeekStep::kFullRound},
      {"two no", 0, 2, true, PeekStep::kFullRound},
      {"one yes, two no", 1, 2, true, PeekStep::kFullRound},
  };
  for (const Case& c : cases) {
    QuorumTally tally = QuorumTally::Of(0b111);
    MemberId member = 0;
    for (int i = 0; i < c.yes; ++i) tally.RecordYes(member++);
    for (int i = 0; i < c.no; ++i) tally.RecordNo(member++);
    EXPECT_EQ(NextPeekStep(c.agree, tally), c.step) << c.what;
  }
}

// A second reply after a first of (kB1, held by "a", token 7, 500 ms left).
TEST(PromiseMerge, TheHighestAcceptedBallotWinsAndEqualsKeepTheLongerCopy) {
  struct Case {
    const char* what;
    Promise second;
    bool agrees;
    Ballot ballot;
    std::string owner;
    int64_t remaining_ms;
  };
  const Case cases[] = {
      {"a later ballot wins, free or not", Yes(kB2, false, "", 0, 0), false, kB2, "", 0},
      {"an earlier ballot loses", Yes(Ballot{}, true, "b", 3, 900), false, kB1, "a", 500},
      {"the same ballot with more left wins", Yes(kB1, true, "a", 7, 800), true, kB1, "a", 800},
      {"the same ballot with less left loses", Yes(kB1, true, "a", 7, 200), true, kB1, "a", 500},
      {"the same ballot, the copy ended here", Yes(kB1, false, "", 0, 0), true, kB1, "a", 500},
  };
  for (const Case& c : cases) {
    bool set = false;
    Ballot ballot;
    LeaseView read;
    EXPECT_TRUE(MergePromiseYes(Yes(kB1, true, "a", 7, 500), &set, &ballot, &read)) << "the first";
    EXPECT_EQ(MergePromiseYes(c.second, &set, &ballot, &read), c.agrees) << c.what;
    EXPECT_EQ(ballot, c.ballot) << c.what;
    EXPECT_EQ(read.owner, c.owner) << c.what;
    EXPECT_EQ(read.remaining_ms, c.remaining_ms) << c.what;
  }
}

}  // namespace
}  // namespace lockerd::cluster
