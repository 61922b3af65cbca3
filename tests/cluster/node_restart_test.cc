// How a member starts (cluster/node_recovery.cc): what a clean stop saves,
// what a clean restart restores (with the downtime from the boot clock, or
// kept whole after a reboot), and the quarantine after a crash. The wall
// clock never enters into it.
#include <gtest/gtest.h>

#include "cluster/lease_math.h"
#include "cluster/node.h"
#include "tests/cluster/node_calls.h"

namespace lockerd::cluster {
namespace {

constexpr int64_t kWallMs = 1'700'000'000'000;

NodeOptions Options(size_t members = 1) {
  NodeOptions options;
  options.membership = cluster::Membership::Initial(members);
  options.max_lease_ms = 10'000;
  return options;
}

WriteResult Lock(Node& node, const std::string& key, const std::string& owner, int64_t ttl_ms,
                 Time now, WriteOp op = WriteOp::kLock) {
  return WriteOnce(node, op, key, owner, ttl_ms, now);
}

StartFacts CleanStop(const Node& node, Time now, std::optional<int64_t> downtime_ms) {
  StartFacts facts;
  facts.saved = node.Save(now);
  facts.downtime_ms = downtime_ms;
  return facts;
}

TEST(NodeRestart, AFirstStartAloneVotesAtOnce) {
  Node node(Options(1));
  const StartReport report = node.Start({}, {0, kWallMs});
  EXPECT_EQ(report.kind, StartKind::kFirst);
  EXPECT_FALSE(node.Quarantined({0, kWallMs}));
  EXPECT_FALSE(node.recovering());
}

// A member with an empty dir in a cluster may be new or may have lost its
// disk: it asks a majority of the others first. (The whole exchange is in
// the first-start tests of tests/sim/race_test.cc.)
TEST(NodeRestart, AFirstStartInAClusterChecksThatTheClusterIsNew) {
  Node node(Options(3));
  const StartReport report = node.Start({}, {0, kWallMs});
  EXPECT_EQ(report.kind, StartKind::kFirst);
  EXPECT_TRUE(report.checking_new);
  EXPECT_TRUE(node.Quarantined({0, kWallMs})) << "it does not vote before the answers";
  EXPECT_FALSE(node.recovery().lost_memory()) << "and answers others with what it has";
  StartFacts facts;
  facts.new_cluster = true;  // A tool that knows the cluster is new.
  Node told(Options(3));
  told.Start(facts, {0, kWallMs});
  EXPECT_FALSE(told.Quarantined({0, kWallMs}));
}

TEST(NodeRestart, QuarantineAnswersTryAgainUntilLeasesCouldHaveEnded) {
  Node node(Options());
  const Time now{1000, kWallMs};
  node.StartQuarantine(now);
  EXPECT_EQ(Lock(node, "k", "me", 1000, now).outcome, WriteOutcome::kTryAgain);
  // A member alone: max-lease-ms * (1 + drift) + round timeout = 10000 * 1.01 + 500.
  EXPECT_EQ(node.quarantine_until_ms(), now.mono_ms + 10'600);
  EXPECT_EQ(Lock(node, "k", "me", 1000, {now.mono_ms + 10'599, kWallMs}).outcome, WriteOutcome::kTryAgain);
  EXPECT_EQ(Lock(node, "k", "me", 1000, {now.mono_ms + 10'600, kWallMs}).outcome, WriteOutcome::kDone);
}

TEST(NodeRestart, InAClusterTheQuarantineCoversEveryOlderCopy) {
  Node node(Options(3));
  StartFacts crashed;
  crashed.unclean = true;
  const StartReport report = node.Start(crashed, {1000, kWallMs});
  // S = (max-lease-ms + round timeout + L) * (1 + drift) + δ.
  EXPECT_EQ(report.quarantine_ms, StaleStateLifeMs(10'000, 0.01, 500));
  EXPECT_EQ(report.quarantine_ms, 11'112);
  EXPECT_TRUE(report.recovering) << "and it learns ballots and counters first";
}

TEST(NodeRestart, CleanStopDuringQuarantineKeepsWhatIsLeftOfIt) {
  // A member restarted after a crash is shut down cleanly before its
  // quarantine ended: what it lost in the crash is still lost, so the
  // next start must not vote at once.
  Node node(Options());
  node.StartQuarantine({1000, kWallMs});
  const StartFacts facts = CleanStop(node, {5000, kWallMs}, /*downtime_ms=*/1000);
  EXPECT_EQ(facts.saved->quarantine_left_ms, 10'600 - 4000);
  Node restarted(Options());
  restarted.Start(facts, {0, kWallMs});
  EXPECT_TRUE(restarted.Quarantined({5599, kWallMs}));
  EXPECT_FALSE(restarted.Quarantined({5600, kWallMs})) << "the downtime counts";
}

TEST(NodeRestart, AQuarantineSavedBeforeARebootIsKeptWhole) {
  Node node(Options());
  node.StartQuarantine({1000, kWallMs});
  StartFacts facts = CleanStop(node, {5000, kWallMs}, std::nullopt);
  Node restarted(Options());
  const StartReport report = restarted.Start(facts, {0, kWallMs + 3'600'000});
  EXPECT_EQ(report.kind, StartKind::kCleanAfterReboot);
  EXPECT_TRUE(restarted.Quarantined({6599, kWallMs})) << "nothing is known to have passed";
  EXPECT_FALSE(restarted.Quarantined({6600, kWallMs}));
}

TEST(NodeRestart, SaveAndRestoreCountTheDowntimeFromTheBootClock) {
  Node node(Options());
  const Time now{1000, kWallMs};
  const WriteResult a = Lock(node, "a", "me", 5000, now);
  Lock(node, "b", "me", 500, now);
  StartFacts facts = CleanStop(node, now, /*downtime_ms=*/1000);
  ASSERT_EQ(facts.saved->registers.size(), 2u);
  // The wall clock stepped two minutes forward while it was down: nothing
  // reads it.
  facts.wall_downtime_ms = 121'000;
  Node restarted(Options());
  const Time later{50, kWallMs + 121'000};  // A new process: its own monotonic clock.
  const StartReport report = restarted.Start(facts, later);
  EXPECT_EQ(report.kind, StartKind::kClean);
  EXPECT_EQ(report.leases_loaded, 1u);
  const Register* reg = restarted.table().FindHeld("a", later.mono_ms);
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(reg->token, a.token);
  EXPECT_EQ(reg->RemainingMs(later.mono_ms), 4000);
  EXPECT_EQ(restarted.table().FindHeld("b", later.mono_ms), nullptr) << "ran out while down";
  // The wall clock went back: only the saved counter keeps tokens growing.
  const WriteResult c = Lock(restarted, "c", "x", 100, {later.mono_ms, kWallMs - 60'000});
  EXPECT_GT(c.token, a.token);
}

TEST(NodeRestart, AfterARebootLeasesAreKeptWholeAndInAClusterWaitedOut) {
  Node alone(Options());
  Lock(alone, "a", "me", 5000, {1000, kWallMs});
  Node restarted(Options());
  restarted.Start(CleanStop(alone, {1000, kWallMs}, std::nullopt), {0, kWallMs + 999'000});
  const Register* reg = restarted.table().FindHeld("a", 0);
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(reg->RemainingMs(0), 5000) << "the downtime is unknown: the lease is kept whole";
  EXPECT_FALSE(restarted.Quarantined({0, kWallMs})) << "alone, its leases are the only truth";

  // In a cluster the member does not vote while a lease it kept whole may
  // be longer than it should: elsewhere the key may have been released
  // and forgotten since.
  NodeState state;
  state.registers.push_back({"a", {7, 1}, {7, 1}, true, "me", 1234, 5000});
  StartFacts facts;
  facts.saved = state;
  Node member(Options(3));
  const StartReport report = member.Start(facts, {0, kWallMs});
  EXPECT_EQ(report.kind, StartKind::kCleanAfterReboot);
  EXPECT_EQ(report.quarantine_ms, 5001);
  EXPECT_FALSE(report.recovering) << "it lost nothing: its ballots are intact";
}

TEST(NodeRestart, FreeRegistersSurviveACleanRestartWithTheirBallots) {
  Node node(Options(3));
  StartFacts new_cluster;
  new_cluster.new_cluster = true;
  node.Start(new_cluster, {0, kWallMs});
  // Registers written as peers would: a held lease and a released one.
  // Their stamps echo this member's (incarnation 1) reading of now: fresh.
  const Stamp fresh{77, 0, 1, 0};
  Message accept{1, 0, Accept{1, "held", {5, 1}, true, "a", 100, 8000, {}}, fresh};
  Message release{1, 0, Accept{2, "freed", {9, 2}, false, "", 0, 0, {}}, fresh};
  node.Receive(accept, {0, kWallMs});
  node.Receive(release, {0, kWallMs});
  const StartFacts facts = CleanStop(node, {1000, kWallMs}, 3000);
  Node restarted(Options(3));
  const StartReport report = restarted.Start(facts, {0, kWallMs});
  EXPECT_EQ(report.registers_loaded, 2u);
  const Register* freed = restarted.table().Find("freed");
  ASSERT_NE(freed, nullptr) << "the release is remembered";
  EXPECT_FALSE(freed->held);
  EXPECT_EQ(freed->accepted, (Ballot{9, 2}));
  // Its tombstone runs on from where it was: S from the release.
  const int64_t tombstone_ms = StaleStateLifeMs(10'000, 0.01, 500);
  EXPECT_EQ(freed->wake_ms, tombstone_ms - 1000 - 3000);
  const Register* held = restarted.table().FindHeld("held", 0);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->RemainingMs(0), 8000 - 1000 - 3000);
}

}  // namespace
}  // namespace lockerd::cluster
