// A ballot's text form (cluster/ballot_text.h), read back from peers' text
// messages and the state file: exactly what BallotMemberText writes is
// accepted, and nothing else.
#include "cluster/ballot_text.h"

#include <gtest/gtest.h>

#include <string>

namespace lockerd::cluster {
namespace {

TEST(BallotText, RoundTrips) {
  for (const Ballot ballot : {Ballot{1, 0, 0}, Ballot{7, 2, 0}, Ballot{9, 4294967295u, 3},
                              Ballot{3, 0, 4294967295u}}) {
    Ballot read{};
    ASSERT_TRUE(ParseBallotMember(BallotMemberText(ballot), &read)) << BallotMemberText(ballot);
    EXPECT_EQ(read.member, ballot.member);
    EXPECT_EQ(read.step, ballot.step);
  }
}

TEST(BallotText, RefusesAnythingElse) {
  for (const std::string text : {"", "-1", "+1", " 1", "1 ", "01", "00", "1.", "1.0", "1.05",
                                 ".1", "4294967296", "1.4294967296", "1.2.3", "x"}) {
    Ballot read{};
    EXPECT_FALSE(ParseBallotMember(text, &read)) << "'" << text << "'";
  }
}

}  // namespace
}  // namespace lockerd::cluster
