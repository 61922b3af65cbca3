// The explorer's checks, run by the test command (ctest -R Explore): small
// budgets explored completely with the real rules find no violation, and
// each deliberately broken rule of cluster/broken.h that the explorer can
// reach is found by enumeration within a stated budget, with a trace that
// replays to the same violation. lockerd_explore runs larger budgets.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "cluster/broken.h"
#include "tests/explorer/explorer.h"

namespace lockerd::explorer {
namespace {

// Under ASan (the test command's second run, which is there for memory
// errors) the largest scope of the log's tests shrinks (the code it runs is
// the same, at a quarter of the states) and the largest broken variant is
// left to the normal run.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

ExploreOptions Messages(const char* script) {
  ExploreOptions options;
  options.model.network = NetworkModel::kMessages;
  options.model.script = script;
  return options;
}

ExploreOptions Partitions(const char* script, int partitions) {
  ExploreOptions options;
  options.model.network = NetworkModel::kPartitions;
  options.model.script = script;
  options.model.budgets.partitions = partitions;
  return options;
}

std::string Describe(const ExploreOptions& options, const ExploreReport& report) {
  std::string text = Summary(report) + "\n";
  for (const std::string& violation : report.violations) text += "  violation: " + violation + "\n";
  if (report.trace.empty()) return text;
  text += "  trace: " + EncodeTrace(report.trace) + "\n";
  for (const std::string& line : Replay(options.model, report.trace).lines) {
    text += "    " + line + "\n";
  }
  return text;
}

// Explores with the real rules: everything within the budgets, no violation.
ExploreReport ExpectSafe(const ExploreOptions& options) {
  const ExploreReport report = Explore(options);
  EXPECT_TRUE(report.problem.empty()) << report.problem;
  EXPECT_TRUE(report.violations.empty()) << Describe(options, report);
  EXPECT_TRUE(report.complete) << Summary(report);
  EXPECT_EQ(report.replay_mismatches, 0u) << "a member rebuilt from its calls differed";
  std::printf("%s\n", Summary(report).c_str());
  return report;
}

// Explores with `rule` broken until a violation; expects one within the
// options' budgets, and that its trace replays to a violation.
void ExpectFound(const char* rule, ExploreOptions options) {
  ASSERT_TRUE(cluster::BreakRule(rule, options.model.broken)) << rule;
  const ExploreReport report = Explore(options);
  ASSERT_TRUE(report.problem.empty()) << report.problem;
  ASSERT_FALSE(report.violations.empty()) << rule << " not found: " << Summary(report);
  const ReplayReport replay = Replay(options.model, report.trace);
  EXPECT_TRUE(replay.problem.empty()) << replay.problem;
  EXPECT_FALSE(replay.violations.empty()) << "the trace did not replay to a violation";
  std::printf("broken rule '%s' found: %s", rule, Describe(options, report).c_str());
}

// Two clients racing for one key through any members, every message
// arriving in any order its link allows, one answer left in flight.
TEST(Clean, EveryInterleavingOfTwoLocksIsSafe) {
  ExploreOptions options = Messages("lock");
  options.model.budgets.splits = 1;
  const ExploreReport report = ExpectSafe(options);
  EXPECT_GE(report.states, 10'000u);
}

// A client taking, releasing and taking a key again while any minority is
// cut off, twice, and any member restarts cleanly once.
TEST(Clean, EveryPartitionAndRestartAroundAClientComingBackIsSafe) {
  ExploreOptions options = Partitions("A: lock, release, lock", 2);
  options.model.budgets.restarts = 1;
  const ExploreReport report = ExpectSafe(options);
  EXPECT_GE(report.states, 9'000u);
}

// Members rebuilt from their calls are the members that made them, so
// two explorations of the same options agree event for event.
TEST(Clean, TheSameOptionsGiveTheSameExploration) {
  ExploreOptions options = Messages("A: lock, release");
  options.model.budgets.splits = 1;
  const ExploreReport first = Explore(options);
  const ExploreReport second = Explore(options);
  EXPECT_TRUE(first.complete);
  EXPECT_EQ(first.replay_mismatches, 0u);
  EXPECT_EQ(first.states, second.states);
  EXPECT_EQ(first.revisits, second.revisits);
  EXPECT_EQ(first.transitions, second.transitions);
  EXPECT_EQ(first.max_depth, second.max_depth);
}

TEST(Clean, ABoundedRunStopsAtItsStateBudget) {
  ExploreOptions options = Messages("lock-release");
  options.max_states = 500;
  const ExploreReport report = Explore(options);
  EXPECT_TRUE(report.stopped);
  EXPECT_FALSE(report.complete);
  EXPECT_EQ(report.states, 500u);
}

// Each broken rule below is found by enumerating, within the budgets
// given, with the clients' writes given; the comment says what the
// violation was when this was written (the trace is printed).

// Both clients told they hold the key by a majority of one.
TEST(BrokenVariants, SuccessWithoutMajority) {
  ExpectFound("success-without-majority", Messages("lock"));
}

// A commit accepted below a ballot promised to a rival: both hold.
TEST(BrokenVariants, ForgetPromises) { ExpectFound("forget-promises", Messages("lock")); }

// A member that lost its memory votes at once and makes a second majority.
TEST(BrokenVariants, VoteInQuarantine) {
  ExploreOptions options = Messages("lock");
  options.model.budgets.crashes = 1;
  ExpectFound("vote-in-quarantine", options);
}

// The same with a member whose dir was lost (it starts as a new member).
TEST(BrokenVariants, FirstStartVotesAtOnce) {
  ExploreOptions options = Messages("lock");
  options.model.budgets.disk_losses = 1;
  ExpectFound("first-start-votes-at-once", options);
}

// Two members of four lose their disks after a lock was written on three:
// each counts the other's empty answer, and that of the member that missed
// the lock, as proof that the cluster is new, and they grant the key again.
// (On five members the same needs two lost disks of five, within what five
// members survive; the rule as written before this check was exactly this.)
TEST(BrokenVariants, FirstStartCountsUndecided) {
  ExploreOptions options = Partitions("A: lock; B: lock", 2);
  options.model.members = 4;
  options.model.budgets.disk_losses = 2;
  options.model.budgets.timers = 1;
  options.faults_first = true;
  ExpectFound("first-start-counts-undecided", options);
}

// Nearly the same budgets with the real rules: every interleaving is safe
// (with two partitions, as above, ./scripts/explore.sh runs all 1.5
// million states).
TEST(Clean, TwoLostDisksOfFourNeverMakeASecondHolder) {
  ExploreOptions options = Partitions("A: lock; B: lock", 1);
  options.model.members = 4;
  options.model.budgets.disk_losses = 2;
  options.model.budgets.timers = 1;
  const ExploreReport report = ExpectSafe(options);
  EXPECT_GE(report.states, 10'000u);
}

// Finding 2 of issue 14: a clean restart with the wall clock stepped
// forward drops a live lease; a majority without its holder grants again.
TEST(BrokenVariants, DowntimeFromWallClock) {
  ExploreOptions options = Messages("lock");
  options.model.budgets.restarts = 1;
  options.model.budgets.wall_steps = 1;
  ExpectFound("downtime-from-wall-clock", options);
}

// Finding 3 of issue 14: a clean stop forgets a released key; an older copy
// of the lease elsewhere wins, and its owner gets its old token back. The
// events that spend a budget are tried first (the default order finds it
// too, in about twice the states).
TEST(BrokenVariants, SaveHeldLeasesOnly) {
  ExploreOptions options = Partitions("again", 2);
  options.model.budgets.restarts = 1;
  options.faults_first = true;
  ExpectFound("save-held-leases-only", options);
}

// appendonly yes (issue 17): a crash restarts the member from its log, at
// once, as of its last sync; what it sent before that sync ended (its own
// proposals, promises within its reserve) stays in flight. A crash
// anywhere around a lock, a release and a second lock, in every partition
// order and in any sync's window, never makes two holders or reuses a
// token.
TEST(Clean, CrashesOfMembersWithTheLogAreSafe) {
  ExploreOptions options = Partitions(kSanitized ? "A: lock, release, lock, release" : "again", 1);
  options.model.appendonly = true;
  options.model.budgets.crashes = 1;
  const ExploreReport report = ExpectSafe(options);
  EXPECT_GE(report.states, 1'000u);
}

// The same crash through the log of a member that saves held leases only
// (its full record forgets a release): found, as for a clean stop. Without
// the log the crash would quarantine and hide it.
TEST(BrokenVariants, SaveHeldLeasesOnlyThroughTheLog) {
  ExploreOptions options = Partitions("again", 2);
  options.model.appendonly = true;
  options.model.budgets.crashes = 1;
  options.faults_first = true;
  ExpectFound("save-held-leases-only", options);
}

// The two rules below are found with every message order and one crash,
// which meets a sync's window after the member's early messages were acted
// on. With the real rules that scope is safe, all 325,000 states of it
// (lockerd_explore --appendonly --script lock --crashes 1: about 10 s, and
// five minutes under ASan, too long for the test command).

// An accept answered before its sync: the coordinator counts it and tells
// its client, the acceptor crashes before its sync ends and forgets it,
// and a second coordinator finds a majority that never accepted anything.
TEST(BrokenVariants, AnswersBeforeSync) {
  ExploreOptions options = Messages("lock");
  options.model.appendonly = true;
  options.model.budgets.crashes = 1;
  ExpectFound("answers-before-sync", options);
}

// A promise within the reserve leaves before its sync; the member crashes
// before its next sync (of the accept that followed) and, back from its
// log without promising above the reserve, runs a lower ballot's round
// that chooses another value, while the coordinator that counted the
// forgotten promise chooses its own.
TEST(BrokenVariants, RestartIgnoresRoundReserve) {
  ExploreOptions options = Messages("lock");
  options.model.appendonly = true;
  options.model.budgets.crashes = 1;
  ExpectFound("restart-ignores-round-reserve", options);
}

// A commit delayed past its key's tombstone revives a released lease. The
// events that spend a budget are tried first (the default order finds it
// too, in about ten times the states).
TEST(BrokenVariants, ApplyStaleCommits) {
  ExploreOptions options = Partitions("again", 2);
  options.model.budgets.timers = 1;
  options.faults_first = true;
  ExpectFound("apply-stale-commits", options);
}

// A one-round-trip renewal at a fresh ballot outranks the next holder's
// round after the lease ran out.
TEST(BrokenVariants, FastWriteFreshBallot) {
  ExploreOptions options = Partitions("extend", 2);
  options.model.budgets.timers = 2;
  options.model.step_ms = 50;
  ExpectFound("fast-write-fresh-ballot", options);
}

// Every member loses its memory at once: without the wall-clock floor,
// tokens start over and a second holder gets the first one's token.
TEST(BrokenVariants, TokenWithoutFloor) {
  ExploreOptions options = Partitions("A: lock; B: lock", 0);
  options.model.budgets.crashes = 3;
  options.model.budgets.timers = 2;
  ExpectFound("token-without-floor", options);
}

// Two workers sharing one owner name (issue 15): SET NX, DEL, through any
// members, every message order. A DEL retried after a rival carried its
// first attempt on must not free the other worker's lease; a retry whose
// first attempt was refused everywhere decides afresh.
TEST(Clean, WorkersSharingAnOwnerNameNeverHoldTogether) {
  const ExploreReport report = ExpectSafe(Messages("A: setnx, del; A: setnx"));
  EXPECT_GE(report.states, 50'000u);
}

// Membership change (issue 18). An operator's script ("O: add m3 @m1, ...")
// asks members for changes while the lock clients write through any member;
// processes beyond the first configuration are spares until added. With
// kPartitions a change runs to its end within the event that asks for it
// unless a member it needs is cut off, so the choices are where each write
// and change goes, in what order, and which member is cut off (and which
// waiting link is lost) around them. Time never passes here: every lease
// outlives the changes, and a crashed member stays in its quarantine.

// An operator's steps name processes that exist; `@m<N>` pins any step to
// one member.
TEST(Scripts, MembershipStepsNameProcessesThatExist) {
  using Kind = cluster::MembershipRequest::Kind;
  std::string problem;
  const auto scripts =
      ParseScripts("A: lock @m2, release; O: add m3, remove 0 @m1, add-learner m2, settle", 1, 4,
                   &problem);
  ASSERT_TRUE(scripts) << problem;
  ASSERT_EQ(scripts->size(), 2u);
  const ClientScript& a = (*scripts)[0];
  EXPECT_FALSE(a.writes[0].change);
  EXPECT_EQ(a.writes[0].via, cluster::MemberId{2});
  EXPECT_FALSE(a.writes[1].via);
  const ClientScript& o = (*scripts)[1];
  ASSERT_EQ(o.writes.size(), 4u);
  EXPECT_EQ(o.writes[0].change, Kind::kAddVoter);
  EXPECT_EQ(o.writes[0].member, 3);
  EXPECT_FALSE(o.writes[0].via);
  EXPECT_EQ(o.writes[1].change, Kind::kRemove);
  EXPECT_EQ(o.writes[1].member, 0);
  EXPECT_EQ(o.writes[1].via, cluster::MemberId{1});
  EXPECT_EQ(o.writes[2].change, Kind::kAddLearner);
  EXPECT_EQ(o.writes[3].change, Kind::kSettle);
  EXPECT_EQ(ChangeText(o.writes[1]), "remove m0");
  for (const char* bad : {"O: add m4", "O: add", "O: settle m1", "A: lock @m7", "A: @m1"}) {
    EXPECT_FALSE(ParseScripts(bad, 1, 4, &problem)) << bad;
  }
  // A script that names a spare the model does not have cannot run.
  ExploreOptions options = Partitions("O: add m3", 0);
  EXPECT_FALSE(Explore(options).problem.empty());
  options.model.spares = 1;
  EXPECT_TRUE(Explore(options).problem.empty());
}

// Expects the changes to have reached `epoch` on some path, with some
// answered done.
void ExpectChangesReached(const ExploreReport& report, uint64_t epoch) {
  EXPECT_GT(report.change_answers[0], 0u) << "no membership change was ever answered done";
  EXPECT_EQ(report.max_epoch, epoch) << "the changes never reached the last configuration";
}

// Partitions on `members` voters and `spares` processes outside them.
ExploreOptions Changing(size_t members, size_t spares, const char* script, int partitions) {
  ExploreOptions options = Partitions(script, partitions);
  options.model.members = members;
  options.model.spares = spares;
  return options;
}

// 1 -> 2 -> 3: a member alone (its writes decided without messages) grows
// by two spares, one voter at a time, through whichever member the script's
// operator picks, while a client locks and releases and another locks,
// through any member (a spare too, before and after it is added), with any
// member cut off and the cut healed at any point.
TEST(Clean, GrowingFromOneToThreeIsSafe) {
  ExploreOptions options =
      Changing(1, 2,
               kSanitized ? "A: lock; B: lock; O: add m1, add m2"
                          : "A: lock, release; B: lock; O: add m1, add m2",
               2);
  const ExploreReport report = ExpectSafe(options);
  ExpectChangesReached(report, 3);
  EXPECT_GE(report.states, kSanitized ? 10'000u : 100'000u);
}

// 3 -> 4 -> 3 with a lease held throughout: a spare added and an original
// voter removed, while one lock is written with any member cut off and
// another tries for the key through any member, and up to two links'
// waiting messages are lost. This is the scope in which both broken rules
// below are found.
TEST(Clean, GrowingAndShrinkingThreeToFourToThreeIsSafe) {
  ExploreOptions options = Changing(
      3, 1,
      kSanitized ? "A: lock @m0; B: lock; O: add m3 @m1, remove m0 @m1"
                 : "A: lock; B: lock; O: add m3 @m1, remove m0 @m1",
      2);
  options.model.budgets.drops = kSanitized ? 1 : 2;
  const ExploreReport report = ExpectSafe(options);
  ExpectChangesReached(report, 3);
  EXPECT_GE(report.states, kSanitized ? 10'000u : 100'000u);
}

// The same with a crash of any member at any point (its configuration
// kept, its registers lost): the coordinator of a change may lose it
// half-way (the next change settles it first), and an old voter may be
// asked to catch up with nothing in memory.
TEST(Clean, ACrashAroundThreeToFourToThreeIsSafe) {
  ExploreOptions options =
      Changing(3, 1, "A: lock @m0; B: lock; O: add m3 @m1, remove m0 @m1", kSanitized ? 1 : 2);
  options.model.budgets.crashes = 1;
  const ExploreReport report = ExpectSafe(options);
  ExpectChangesReached(report, 3);
  EXPECT_GE(report.states, kSanitized ? 10'000u : 50'000u);
}

// And with a member's dir lost instead: it starts as a member that joins
// (epoch 0, asking the other processes for the configuration) and checks
// whether the cluster is new before it votes, while the spare it may count
// is itself new.
TEST(Clean, ALostDiskAroundThreeToFourToThreeIsSafe) {
  ExploreOptions options =
      Changing(3, 1, "A: lock @m0; B: lock; O: add m3 @m1, remove m0 @m1", kSanitized ? 1 : 2);
  options.model.budgets.disk_losses = 1;
  const ExploreReport report = ExpectSafe(options);
  ExpectChangesReached(report, 3);
  EXPECT_GE(report.states, kSanitized ? 10'000u : 50'000u);
}

// The simulator's kReplaceTheWriters, settled nothing: a lease written on
// two voters while the third is cut off (its link's messages lost), a spare
// added, the writers removed one after the other, then a lock through the
// new voters. Found after the first removal: a majority of the new voters
// that never saw the lease (its catch-up carried nothing) grants it again.
TEST(BrokenVariants, ChangeWithoutSettling) {
  ExploreOptions options =
      Changing(3, 1, "A: lock; B: lock; O: add m3 @m1, remove m0 @m1, remove m1 @m2", 2);
  options.model.budgets.drops = 1;
  options.faults_first = true;
  ExpectFound("change-without-settling", options);
}

// A member cut off sends a round's prepares under epoch 1 (the link to one
// voter lost); a spare is added and another voter removed meanwhile, the
// link carrying the news to the cut member lost, and a second holder is
// granted under epoch 3. Healed, the old round finishes with the vote of
// the removed voter, which votes in a round two epochs older than its own.
TEST(BrokenVariants, VotesInOldEpochs) {
  ExploreOptions options = Changing(3, 1, "A: lock; B: lock; O: add m3 @m1, remove m0 @m1", 2);
  options.model.budgets.drops = 2;
  options.faults_first = true;
  ExpectFound("votes-in-old-epochs", options);
}

// With the retry rule broken (a DEL carried on by the other worker's SET NX
// is retried and frees that worker's lease), the explorer finds two holders
// in about 233,000 states: too slow for the test command under ASan, so
// ./scripts/explore.sh runs it; the simulator's self-test
// (BrokenVariants.ARetryThatForgetsItsAcceptsIsCaught) catches the same
// rule in the test command.

// Not in the test command: sync-answers-while-recovering (finding 1) needs
// four members or more (with three, a recovering member needs both others'
// answers, so the one that never crashed always tells it the ballot). On
// four members the explorer finds it by itself, trying faults first, in
// nine events (a minority cut off, a lock, a crash, the cut healed, a
// second crash, two timers, two locks) after about 19 million states and
// six minutes ("A: lock, lock; B: lock", crashes 2, timers 2, partitions
// 2): ./scripts/explore.sh runs that search and fails if it finds nothing.
// The simulator's self-test catches the same rule within its seeds.

}  // namespace
}  // namespace lockerd::explorer
