// Attacks on membership change found by an adversarial review (issue 18),
// kept as regression tests: each schedule made two holders, undid an
// acknowledged release or sent a token backwards before its fix
// (CLUSTER-SAFETY.md, "Membership change"). A 5-node in-order network that
// can drop chosen messages and restart a node without its memory or its dir.
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/cluster/membership_net.h"

namespace lockerd::cluster {
namespace {

using Kind = MembershipRequest::Kind;

bool Between(const Message& m, std::set<MemberId> a, std::set<MemberId> b) {
  return (a.contains(m.from) && b.contains(m.to)) || (b.contains(m.from) && a.contains(m.to));
}

// A member whose dir was lost (started as a member that joins) must not
// vote in the configuration register before it has recovered the register
// from a majority of the others: it had accepted a configuration that a
// later change, counting its empty register, would have replaced by another
// of the same epoch (two epoch-2 configurations, then two holders).
void DiskLostScenario(bool history);
TEST(MembershipAttack, AMemberThatLostItsDirDoesNotVoteInTheRegisterBeforeRecovering) { DiskLostScenario(false); }
TEST(MembershipAttack, AMemberThatLostItsDirInAClusterWithHistoryDoesNotEither) { DiskLostScenario(true); }
void DiskLostScenario(bool history) {
  MembershipNet net;  // voters {0,1,2}; 3 and 4 are spares.
  if (history) {
    ASSERT_EQ(net.Lock(0, "h", "old").outcome, WriteOutcome::kDone);
  }
  // 0 adds voter 3; 2 never hears of it.
  net.drop = [](const Message& m) { return Between(m, {0}, {2}); };
  net.SubmitChange(0, Kind::kAddVoter, 3);
  for (int i = 0; i < 200 && net.node(0).membership().epoch < 2; ++i) net.Step();
  ASSERT_EQ(net.node(0).membership().voters, 0b1111u);
  // Partition {0,3} | {1,2}; 1 loses its dir (it had accepted epoch 2).
  net.drop = [](const Message& m) { return Between(m, {0, 3}, {1, 2}); };
  net.Steps(5);
  net.LoseDisk(1);
  // 2 tries to remove 0 with {1,2}: 1 cannot vote in the register until it
  // hears from 0 (a majority of the others of the configuration it adopts).
  const WriteResult removed0 = net.Change(2, Kind::kRemove, 0);
  EXPECT_NE(removed0.outcome, WriteOutcome::kDone) << "a second epoch-2 configuration was chosen";
  EXPECT_NE(net.node(2).membership(), Membership{}) << "";
  EXPECT_FALSE(net.node(2).membership().epoch == 2 && net.node(2).membership().voters != 0b1111u)
      << "two different epoch-2 configurations";
  // Healed: 1 recovers the register (epoch 2 accepted) and the next change
  // builds on it.
  net.drop = [](const Message&) { return false; };
  const WriteResult again = net.Change(2, Kind::kRemove, 0);
  EXPECT_EQ(again.outcome, WriteOutcome::kDone) << again.detail;
  EXPECT_EQ(net.node(2).membership().voters, 0b1110u) << "epoch 2 (with 3) kept, then 0 removed";
  EXPECT_EQ(net.node(2).membership().epoch, 3u);
  // And no two holders through the old and the new side.
  const WriteResult b = net.Lock(2, "k", "b");
  const WriteResult a = net.Lock(0, "k", "a");
  EXPECT_FALSE(a.outcome == WriteOutcome::kDone && b.outcome == WriteOutcome::kDone)
      << "TWO HOLDERS of k: a (token " << a.token << ") and b (token " << b.token << ")";
}

// A member that lost its memory and is still in quarantine holds nothing a
// settler may count on: counted among the old voters that hold every key,
// it let a change remove the only member that held a live lease.
TEST(MembershipAttack, AMemberInQuarantineDoesNotCountAsCaughtUp) {
  MembershipNet net;  // voters {0,1,2}
  net.drop = [](const Message& m) { return Between(m, {2}, {0, 1}); };
  const WriteResult a = net.Lock(0, "k", "a");  // On {0,1} only.
  ASSERT_EQ(a.outcome, WriteOutcome::kDone) << a.detail;
  const int64_t a_granted_ms = net.Now().mono_ms;
  net.drop = [](const Message&) { return false; };
  net.RestartUnclean(1);
  for (int i = 0; i < 2000 && net.node(1).recovering(); ++i) net.Step();
  ASSERT_FALSE(net.node(1).recovering());
  ASSERT_TRUE(net.node(1).Quarantined(net.Now())) << "still in quarantine";
  EXPECT_EQ(net.node(1).table().Find("k"), nullptr) << "it forgot k";
  // 0 (the only one that still holds k) is cut off; 2 adds 3, then removes 0.
  net.drop = [](const Message& m) { return m.from == 0 || m.to == 0; };
  const WriteResult added = net.Change(2, Kind::kAddVoter, 3);
  EXPECT_NE(added.detail.find(added.outcome == WriteOutcome::kDone ? "" : "not settled"), std::string::npos)
      << added.detail;
  net.Change(2, Kind::kRemove, 0);
  const WriteResult b = net.Lock(3, "k", "b");
  if (b.outcome == WriteOutcome::kDone) {
    EXPECT_GE(net.Now().mono_ms, a_granted_ms + 9000)
        << "TWO HOLDERS of k: a (token " << a.token << ") and b (token " << b.token << ")";
  }
}

// A member alone keeps no tombstones (TombstoneMs 0), but a member removed
// from its configuration still holds an older state, and may be added back.
TEST(MembershipAttack, AMemberRemovedAndAddedBackDoesNotReviveAReleasedLease) {
  MembershipNet net(3, 2);  // voters {0,1}
  const WriteResult c1 = net.Lock(0, "k", "c1");
  ASSERT_EQ(c1.outcome, WriteOutcome::kDone) << c1.detail;
  const WriteResult removed = net.Change(0, Kind::kRemove, 1);
  ASSERT_EQ(removed.outcome, WriteOutcome::kDone) << removed.detail;
  ASSERT_EQ(net.node(0).membership().voters, 0b1u);
  WriteRequest release;
  release.request_id = 777;
  release.op = WriteOp::kRelease;
  release.key = "k";
  release.owner = "c1";
  net.node(0).Submit(release, net.Now());
  const WriteResult released = net.Wait(0, 777);
  ASSERT_EQ(released.outcome, WriteOutcome::kDone) << released.detail;
  net.Steps(20);
  // c3 takes k and lets it go again, on the member alone.
  const WriteResult c3 = net.Lock(0, "k", "c3");
  ASSERT_EQ(c3.outcome, WriteOutcome::kDone);
  release.request_id = 778;
  release.owner = "c3";
  net.node(0).Submit(release, net.Now());
  ASSERT_EQ(net.Wait(0, 778).outcome, WriteOutcome::kDone);
  net.Steps(20);
  EXPECT_NE(net.node(0).table().Find("k"), nullptr)
      << "a member alone after a change keeps its tombstones: a removed member may come back";
  ASSERT_NE(net.node(1).table().Find("k"), nullptr);
  EXPECT_TRUE(net.node(1).table().Find("k")->held) << "removed member still holds c1's lease";
  const WriteResult added = net.Change(0, Kind::kAddVoter, 1);
  ASSERT_EQ(added.outcome, WriteOutcome::kDone) << added.detail;
  const WriteResult c2 = net.Lock(0, "k", "c2");
  EXPECT_EQ(c2.outcome, WriteOutcome::kDone)
      << "ACKNOWLEDGED RELEASE UNDONE: " << c2.detail;
  const WriteResult c1again = net.Lock(0, "k", "c1");
  EXPECT_NE(c1again.outcome, WriteOutcome::kDone) << "c1 renews a lease it released: token " << c1again.token;
  EXPECT_GT(c1again.token, c3.token) << "TOKEN BACKWARDS: c3 had " << c3.token << ", then c1 gets " << c1again.token;
}

}  // namespace
}  // namespace lockerd::cluster
