// How old a peer's message may be (cluster/message_clocks.h), with clocks
// whose offsets and rates the test sets: the bound is never below the true
// age (within the drift allowance), however late the message that gave the
// bound arrived.
#include "cluster/message_clocks.h"

#include <gtest/gtest.h>

namespace lockerd::cluster {
namespace {

constexpr double kDrift = 0.01;

// Two members' clocks over real time t (ms): reading = offset + rate * t.
struct Clock {
  double offset;
  double rate;
  int64_t At(double t) const { return static_cast<int64_t>(offset + rate * t); }
};

TEST(MessageClocks, AReplyToThisMembersMessageIsAsOldAsTheExchange) {
  MessageClocks r(0, /*incarnation=*/11, kDrift, 1000);
  MessageClocks p(1, /*incarnation=*/22, kDrift, 1000);
  const Clock rc{5'000, 1.0};
  const Clock pc{900'000, 1.0};  // Wholly different origins.
  // R sends at t=0; P receives at t=3 and answers at once; R reads it at t=6.
  const Stamp to_p = r.StampFor(1, rc.At(0));
  EXPECT_FALSE(p.Receive(0, to_p, pc.At(3)).has_value()) << "P has no bound on R yet";
  const Stamp reply = p.StampFor(0, pc.At(3));
  const std::optional<int64_t> age = r.Receive(1, reply, rc.At(6));
  ASSERT_TRUE(age.has_value());
  EXPECT_GE(*age, 3) << "at least its true age (3 ms)";
  EXPECT_LE(*age, 7) << "at most the exchange (6 ms), stretched by the drift";
}

TEST(MessageClocks, AnotherRunOfThePeerIsOfUnknownAgeUntilItEchoes) {
  MessageClocks r(0, 11, kDrift, 1000);
  const Stamp stranger{33, 1234, 0, 0};
  EXPECT_FALSE(r.Receive(1, stranger, 100).has_value());
  const Stamp old_echo{33, 1240, /*echo of another run of R*/ 10, 95};
  EXPECT_FALSE(r.Receive(1, old_echo, 101).has_value());
}

TEST(MessageClocks, AnOldMessageIsSeenAsOld) {
  MessageClocks r(0, 11, kDrift, 1000);
  MessageClocks p(1, 22, kDrift, 1000);
  const Clock rc{0, 1.0};
  const Clock pc{50'000, 1.0};
  p.Receive(0, r.StampFor(1, rc.At(0)), pc.At(1));
  ASSERT_TRUE(r.Receive(1, p.StampFor(0, pc.At(1)), rc.At(2)).has_value());
  // P sends a commit at t=10; it arrives at t=2010.
  const Stamp late = p.StampFor(0, pc.At(10));
  const std::optional<int64_t> age = r.Receive(1, late, rc.At(2010));
  ASSERT_TRUE(age.has_value());
  EXPECT_GE(*age, 2000);
}

// The bounding message itself may arrive late: its floor held when P
// stamped it, not when R read it. With P's clock faster, a floor stored as
// if taken on arrival would make later ages look younger than they are.
TEST(MessageClocks, ABoundFromALateMessageNeverUnderstatesAnAge) {
  MessageClocks r(0, 11, kDrift, 1'000'000);
  MessageClocks p(1, 22, kDrift, 1'000'000);
  const Clock rc{0, 1.0 - kDrift / 2};
  const Clock pc{10'000, 1.0 + kDrift / 2};
  p.Receive(0, r.StampFor(1, rc.At(0)), pc.At(1));
  const Stamp bounding = p.StampFor(0, pc.At(1));  // Read 200 s later.
  r.Receive(1, bounding, rc.At(200'000));
  for (const double sent : {200'100.0, 250'000.0}) {
    for (const double delay : {0.5, 1'000.0, 2'000.0}) {
      const Stamp commit = p.StampFor(0, pc.At(sent));
      const std::optional<int64_t> age = r.Receive(1, commit, rc.At(sent + delay));
      ASSERT_TRUE(age.has_value());
      // R's clock measured `delay` real ms as delay * rc.rate.
      EXPECT_GE(*age, static_cast<int64_t>(delay * rc.rate)) << "sent " << sent << ", delay " << delay;
    }
  }
}

TEST(MessageClocks, AQuietPeerIsProbedOnceAnInterval) {
  MessageClocks r(0, 11, kDrift, 1000);
  EXPECT_TRUE(r.ProbeDue(1, 0)) << "no bound yet";
  EXPECT_FALSE(r.ProbeDue(0, 0)) << "never itself";
  r.ProbeSent(1, 0);
  EXPECT_FALSE(r.ProbeDue(1, 500));
  EXPECT_TRUE(r.ProbeDue(1, 1000));
  r.ProbeSoon(1);
  EXPECT_TRUE(r.ProbeDue(1, 0)) << "a link that came up is probed at once";
}

}  // namespace
}  // namespace lockerd::cluster
