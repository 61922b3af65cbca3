// A full round's merge of its promises (cluster/promise_merge.h), on its
// own: the highest accepted ballot wins, between equals the copy with more
// time left, and the merge says when the copies disagree.
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
