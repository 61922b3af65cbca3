// A member that starts with an empty dir in a cluster joins (epoch 0):
// it takes a configuration a member tells it, and the member list's first
// one only once every listed member says it knows none (or, when the
// operator says the cluster is new, after the whole-cluster rule).
// CLUSTER-SAFETY.md, "Restarts" and "Membership change".
#include <gtest/gtest.h>

#include "cluster/lease_math.h"
#include "tests/cluster/membership_net.h"

namespace lockerd::cluster {
namespace {

using First = NodeOptions::FirstConfiguration;

// Longer than any quarantine and fallback a member of these tests could
// finish without the member it waits for.
int Long(const Node& node) {
  const NodeOptions& o = node.options();
  return static_cast<int>(3 * StaleStateLifeMs(o.max_lease_ms, o.drift, o.round_timeout_ms));
}

// Member 0 (the voter left, cut off) grants k; member 1 must not, unless
// the rule is broken (then it does: the scenario can fail). True when
// broken.
bool GrantedBesideMemberZero(MembershipNet& net, bool broken) {
  const WriteResult kept = net.Lock(0, "k", "a");
  const WriteResult other = net.Lock(1, "k", "b");
  EXPECT_EQ(kept.outcome, WriteOutcome::kDone);
  if (broken) {
    EXPECT_EQ(other.outcome, WriteOutcome::kDone) << "the broken rule grants k twice";
  } else {
    EXPECT_NE(other.outcome, WriteOutcome::kDone) << "k is held through member 0";
  }
  return broken;
}

TEST(NodeJoin, ANewClusterOfEmptyDirsTakesTheListsConfigurationOnceEveryMemberAnswered) {
  MembershipNet net(3, 3);
  for (size_t i = 0; i < 3; ++i) net.StartEmpty(i);
  EXPECT_EQ(net.node(0).membership().epoch, 0u);
  EXPECT_EQ(net.Lock(0, "k", "a").outcome, WriteOutcome::kTryAgain) << "joining: no majority to ask";
  net.Steps(3000);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(net.node(i).membership(), Membership::Initial(3)) << i;
    EXPECT_FALSE(net.node(i).Quarantined(net.Now())) << "a new cluster votes at once";
    EXPECT_EQ(net.node(i).membership_state().value, (ConfigValue{Membership::Initial(3), 0, true}));
  }
  EXPECT_EQ(net.Lock(1, "k", "a").outcome, WriteOutcome::kDone);
}

TEST(NodeJoin, WithAListedMemberMissingItWaitsUnlessTheOperatorSaysTheClusterIsNew) {
  for (const First first : {First::kWhenEveryMemberKnowsNone, First::kAlsoWithAMemberMissing}) {
    MembershipNet net(3, 3);
    net.first_configuration = first;
    net.Cut(2);
    for (size_t i = 0; i < 3; ++i) net.StartEmpty(i);
    net.Steps(Long(net.node(0)));
    if (first == First::kWhenEveryMemberKnowsNone) {
      // Member 2 may be the one that knows the configuration.
      EXPECT_EQ(net.node(0).membership().epoch, 0u);
      EXPECT_EQ(net.node(1).membership().epoch, 0u);
      net.Heal(2);
      net.Steps(3000);
      EXPECT_EQ(net.node(0).membership(), Membership::Initial(3)) << "once it answers";
    } else {
      // initial-cluster-state new: as after losing every disk, a majority
      // knowing none, after the quarantine and with wall-clock floors.
      EXPECT_EQ(net.node(0).membership(), Membership::Initial(3));
      EXPECT_EQ(net.node(1).membership(), Membership::Initial(3));
      EXPECT_GT(net.node(0).recovery_fallbacks(), 0u);
    }
    EXPECT_EQ(net.Lock(0, "k", "a").outcome, WriteOutcome::kDone);
  }
}

TEST(NodeJoin, ExistingNeverTakesTheListsConfiguration) {
  MembershipNet net(3, 3);
  net.first_configuration = First::kNever;
  for (size_t i = 0; i < 3; ++i) net.StartEmpty(i);
  net.Steps(Long(net.node(0)));
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(net.node(i).membership().epoch, 0u) << i;
}

TEST(NodeJoin, AnEmptyDirInAClusterThatChangedLearnsTheConfigurationFromAMember) {
  MembershipNet net(5, 3);
  ASSERT_EQ(net.Change(0, MembershipNet::Kind::kAddVoter, 3).outcome, WriteOutcome::kDone);
  ASSERT_EQ(net.Lock(0, "k", "a").outcome, WriteOutcome::kDone);
  const Membership now = net.node(0).membership();
  net.StartEmpty(1);
  net.Steps(200);
  EXPECT_EQ(net.node(1).membership(), now);
  EXPECT_TRUE(net.node(1).Quarantined(net.Now())) << "it lost its disk: the cluster has history";
}

// The review's attack on the list's first configuration: three voters
// shrink to one; the two removed are wiped and started again with the
// member list while the one left is cut off. Taking the list's
// configuration, they would be a majority of it.
TEST(NodeJoin, RemovedMembersStartedEmptyNeverMakeASecondMajority) {
  for (const bool broken : {false, true}) {
    BrokenRules rules;
    rules.empty_dir_takes_first_configuration = broken;
    MembershipNet net(3, 3, rules);
    ASSERT_EQ(net.Change(0, MembershipNet::Kind::kRemove, 1).outcome, WriteOutcome::kDone);
    ASSERT_EQ(net.Change(0, MembershipNet::Kind::kRemove, 2).outcome, WriteOutcome::kDone);
    const Membership left = net.node(0).membership();
    ASSERT_EQ(left.voters, 1u);
    net.Cut(0);
    net.StartEmpty(1);
    net.StartEmpty(2);
    net.Steps(Long(net.node(1)));
    ASSERT_EQ(net.node(0).membership(), left);
    if (GrantedBesideMemberZero(net, broken)) continue;
    EXPECT_EQ(net.node(1).membership().epoch, 0u);
    EXPECT_EQ(net.node(2).membership().epoch, 0u);
    net.Heal(0);
    net.Steps(2000);
    EXPECT_EQ(net.node(1).membership(), left) << "told by member 0";
    EXPECT_EQ(net.node(2).membership(), left);
  }
}

// The review of that rule: member 2 is down while it is removed, and comes
// back (after a crash: quarantine, recovery) knowing only the first
// configuration; member 1, removed next and wiped, joins and is told that
// one by member 2. With member 0 cut off, the two are a majority of it as
// soon as each sees the other recovering: a member that joined waits for
// every member of a configuration it was told.
TEST(NodeJoin, AJoinerToldAnOldConfigurationWaitsForEveryMemberOfIt) {
  for (const bool broken : {false, true}) {
    BrokenRules rules;
    rules.joined_falls_back_early = broken;
    MembershipNet net(3, 3, rules);
    net.Cut(2);
    ASSERT_EQ(net.Change(0, MembershipNet::Kind::kRemove, 2).outcome, WriteOutcome::kDone);
    ASSERT_EQ(net.Change(0, MembershipNet::Kind::kRemove, 1).outcome, WriteOutcome::kDone);
    EXPECT_EQ(net.node(2).membership().epoch, 1u) << "it missed its removal";
    net.Cut(0);
    net.Heal(2);
    net.RestartUnclean(2);
    net.StartEmpty(1);
    net.Steps(Long(net.node(1)));
    if (GrantedBesideMemberZero(net, broken)) continue;
    EXPECT_TRUE(net.node(1).membership_state().joined);
    net.Heal(0);
    net.Steps(Long(net.node(1)));
    EXPECT_EQ(net.node(1).membership(), net.node(0).membership()) << "told by member 0";
  }
}

}  // namespace
}  // namespace lockerd::cluster
