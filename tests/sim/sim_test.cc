// The simulator's checks, run by the test command: thousands of seeds with
// faults, determinism, liveness after faults stop, and proof that each
// deliberately broken rule is caught (so the checkers can fail). Clients
// also run scripts (cluster transactions); see world.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "cluster/broken.h"
#include "tests/sim/world.h"

namespace lockerd::sim {
namespace {

// Seeds per run; LOCKERD_SIM_SEEDS raises it (scripts/sim.sh runs 100,000+).
uint64_t SeedCount() {
  if (const char* text = std::getenv("LOCKERD_SIM_SEEDS")) return std::strtoull(text, nullptr, 10);
  return 2000;
}

std::string Describe(const SimReport& report) {
  std::string text = "seed " + std::to_string(report.seed) + " failed; replay with: " +
                     "build/tests/lockerd_sim --replay " + std::to_string(report.seed) + "\n";
  for (const std::string& violation : report.violations) text += "  " + violation + "\n";
  return text;
}

TEST(Simulation, SafetyHoldsUnderFaultsForManySeeds) {
  const uint64_t seeds = SeedCount();
  uint64_t holds = 0;
  uint64_t script_holds = 0;
  std::map<std::string, int> faults;
  std::map<std::string, uint64_t> txn;
  std::map<std::string, uint64_t> rounds;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    const SimReport report = RunSeed(seed);
    ASSERT_TRUE(report.ok) << Describe(report);
    holds += report.holds;
    script_holds += report.script_holds;
    for (const auto& [kind, count] : report.faults) faults[kind] += count;
    for (const auto& [kind, count] : report.txn) txn[kind] += count;
    for (const auto& [kind, count] : report.rounds) rounds[kind] += count;
  }
  // The runs exercised what they claim to.
  EXPECT_GT(holds, seeds * 5);
  for (const char* kind : {"crash", "clean-restart", "pause", "partition", "wall-clock-step",
                           "whole-cluster-crash"}) {
    EXPECT_GT(faults[kind], 0) << kind;
  }
  // Scripts (cluster transactions) took part: some granted holds, some
  // were retried, some wrote back a read, some answered from a peek or
  // after phase 1, some commits were found carried on after a pre-emption.
  EXPECT_GT(script_holds, seeds / 2);
  // One-round-trip writes took part, and some were refused by a member
  // that had moved on (and ran the full round).
  EXPECT_GT(rounds["fast"], seeds);
  EXPECT_GT(rounds["fast-refused"], 0u);
  for (const char* kind : {"committed", "read-only", "peek-answers", "retried", "written-back",
                           "carried-on", "timed-out"}) {
    EXPECT_GT(txn[kind], 0u) << kind;
  }
  std::string summary = std::to_string(seeds) + " seeds, " + std::to_string(holds) + " holds (" +
                        std::to_string(script_holds) + " by scripts);";
  for (const auto& [kind, count] : faults) summary += " " + kind + "=" + std::to_string(count);
  RecordProperty("summary", summary);
  std::printf("%s\n", summary.c_str());
}

// The restart shapes of issue 14 (world.h, SimOptions::Scenario), each
// over many seeds with the real rules: no violation. Their broken
// variants below show that each scenario can catch what it is for.
SimOptions ScenarioOptions(SimOptions::Scenario scenario, uint64_t seed) {
  return OptionsForScenario(scenario, seed);
}

constexpr SimOptions::Scenario kScenarios[] = {
    SimOptions::Scenario::kCrashAllButOneOfTheWriters,
    SimOptions::Scenario::kCrashAndWipeTheWriters,
    SimOptions::Scenario::kCleanRestartWithClockStep,
    SimOptions::Scenario::kCleanRestartAfterARelease,
    SimOptions::Scenario::kLinkBacklog,
    SimOptions::Scenario::kReplacedDisk,
    SimOptions::Scenario::kReplaceTheWriters,
    SimOptions::Scenario::kWipedAfterShrinking,
};

TEST(Simulation, RestartScenariosHoldForManySeeds) {
  const uint64_t seeds = std::max<uint64_t>(SeedCount() / 10, 50);
  for (const SimOptions::Scenario scenario : kScenarios) {
    int scenario_faults = 0;
    for (uint64_t seed = 1; seed <= seeds; ++seed) {
      const SimReport report = RunSimulation(ScenarioOptions(scenario, seed));
      ASSERT_TRUE(report.ok) << "scenario " << static_cast<int>(scenario) << ", " << Describe(report);
      scenario_faults += report.faults.count("scenario") ? report.faults.at("scenario") : 0;
    }
    EXPECT_GT(scenario_faults, 0) << static_cast<int>(scenario);
  }
}

TEST(Simulation, SameSeedSameTrace) {
  for (const uint64_t seed : {7ull, 42ull, 1234ull}) {
    const SimReport first = RunSeed(seed);
    const SimReport second = RunSeed(seed);
    EXPECT_EQ(first.trace_hash, second.trace_hash) << seed;
    EXPECT_EQ(first.events, second.events) << seed;
  }
  EXPECT_NE(RunSeed(7).trace_hash, RunSeed(8).trace_hash);
}

TEST(Simulation, WithoutFaultsEveryClientMakesProgress) {
  SimOptions options;
  options.seed = 99;
  options.faults = false;
  const SimReport report = RunSimulation(options);
  ASSERT_TRUE(report.ok) << Describe(report);
  EXPECT_GT(report.holds, 50u);
  EXPECT_GT(report.script_holds, 0u);
}

TEST(Simulation, WithoutScriptsTheLockOnlyWorkloadStillHolds) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SimOptions options = OptionsForSeed(seed);
    options.scripts = false;
    const SimReport report = RunSimulation(options);
    ASSERT_TRUE(report.ok) << Describe(report);
    EXPECT_EQ(report.scripts, 0u);
  }
}

// Issue 15: clients that share one owner value (Celery's task id, npm
// redis-lock's timestamp) take a key with SET NX and free it with DEL or
// RELEASE through any member. A pre-empted write's retry must not take its
// own carried-on grant for another's, nor end the next holder's lease.
TEST(Simulation, ClientsSharingOneOwnerNameNeverHoldTogether) {
  uint64_t holds = 0;
  uint64_t retried = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    const SimReport report = RunSimulation(OptionsForSharedOwner(seed));
    ASSERT_TRUE(report.ok) << Describe(report);
    holds += report.holds;
    retried += report.rounds.count("retried") ? report.rounds.at("retried") : 0;
  }
  EXPECT_GT(holds, 300u * 20);
  EXPECT_GT(retried, 0u) << "no duel: the retries this test is for never ran";
}

// Runs seeds with one rule broken until a checker fails; returns the seed
// (0 if none within the budget) and prints what was caught.
// With `varied`, each seed picks its members, clients and keys as the
// safety test's seeds do; otherwise 5 clients fight over one key.
uint64_t SeedThatCatches(bool cluster::BrokenRules::*rule, const char* name, uint64_t budget,
                         bool whole_cluster_crashes = false, bool varied = false) {
  uint64_t caught = 0;
  for (uint64_t seed = 1; seed <= budget && caught == 0; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.keys = 1;
    options.clients = 5;
    options.whole_cluster_crashes = whole_cluster_crashes;
    if (varied) options = OptionsForSeed(seed);
    options.broken.*rule = true;
    const SimReport report = RunSimulation(options);
    if (!report.ok) {
      caught = seed;
      std::printf("broken rule '%s' caught at seed %llu: %s\n", name,
                  static_cast<unsigned long long>(seed), report.violations[0].c_str());
    }
  }
  return caught;
}

// The retry rule of the test above, broken: the retry decides from what it
// finds as if its earlier accepts had never gone out.
TEST(BrokenVariants, ARetryThatForgetsItsAcceptsIsCaught) {
  uint64_t caught = 0;
  for (uint64_t seed = 1; seed <= 300 && caught == 0; ++seed) {
    SimOptions options = OptionsForSharedOwner(seed);
    options.broken.retry_forgets_its_accepts = true;
    const SimReport report = RunSimulation(options);
    if (!report.ok) {
      caught = seed;
      std::printf("broken rule 'retry forgets its accepts' caught at seed %llu: %s\n",
                  static_cast<unsigned long long>(seed), report.violations[0].c_str());
    }
  }
  EXPECT_NE(caught, 0u);
}

// A broken restart rule, run through its scenario until a checker fails.
uint64_t ScenarioSeedThatCatches(bool cluster::BrokenRules::*rule, SimOptions::Scenario scenario,
                                 const char* name, uint64_t budget) {
  uint64_t caught = 0;
  for (uint64_t seed = 1; seed <= budget && caught == 0; ++seed) {
    SimOptions options = ScenarioOptions(scenario, seed);
    options.broken.*rule = true;
    const SimReport report = RunSimulation(options);
    if (!report.ok) {
      caught = seed;
      std::printf("broken rule '%s' caught at seed %llu: %s\n", name,
                  static_cast<unsigned long long>(seed), report.violations[0].c_str());
    }
  }
  return caught;
}

// Finding 1: a member that is itself recovering answers another's recovery
// with its empty memory, and the answer counts. Two of five crash at once
// while the third member of the last majority is slow: their ballot floor
// ends below the last write's, and a lower ballot wins a majority.
TEST(BrokenVariants, RecoveringMembersAnsweringEachOtherAreCaught) {
  EXPECT_NE(ScenarioSeedThatCatches(&cluster::BrokenRules::sync_answers_while_recovering,
                                    SimOptions::Scenario::kCrashAllButOneOfTheWriters,
                                    "sync answers while recovering", 300),
            0u);
}

// Finding 2: a clean restart that takes its downtime from the wall clock,
// which stepped forward while it was down, drops live leases.
TEST(BrokenVariants, DowntimeFromTheWallClockIsCaught) {
  EXPECT_NE(ScenarioSeedThatCatches(&cluster::BrokenRules::downtime_from_wall_clock,
                                    SimOptions::Scenario::kCleanRestartWithClockStep,
                                    "downtime from the wall clock", 3000),
            0u);
}

// Finding 3: a clean stop that saves held leases only forgets a release; an
// older copy of the lease on another member then wins, and its owner gets
// its old token again.
TEST(BrokenVariants, ForgettingReleasesAtACleanStopIsCaught) {
  EXPECT_NE(ScenarioSeedThatCatches(&cluster::BrokenRules::save_held_leases_only,
                                    SimOptions::Scenario::kCleanRestartAfterARelease,
                                    "save held leases only", 1500),
            0u);
}

// A member that lost its disk starts with an empty dir; voting at once as
// a new member would, it forms a majority with one that missed a lease.
TEST(BrokenVariants, AWipedMemberVotingAsIfNewIsCaught) {
  EXPECT_NE(ScenarioSeedThatCatches(&cluster::BrokenRules::first_start_votes_at_once,
                                    SimOptions::Scenario::kReplacedDisk, "first start votes at once",
                                    300),
            0u);
}

// Found while modelling issue 18: a recovery after a crash counted the
// empty answer of a member checking whether the cluster is new. Two of the
// three that wrote a lease lose their memory at once, one of them its disk
// too, while the third is slow: the first learns no ballot of the lease,
// and a round at a lower ballot wins a majority beside the lease's copy.
TEST(BrokenVariants, ARecoveryCountingACheckingMembersAnswerIsCaught) {
  EXPECT_NE(ScenarioSeedThatCatches(&cluster::BrokenRules::recovery_counts_undecided,
                                    SimOptions::Scenario::kCrashAndWipeTheWriters,
                                    "recovery counts undecided", 300),
            0u);
}

// Issue 18: two voters removed, their dirs wiped, started again with the
// member list; taking its first configuration, they are a majority of it
// while the voter left, cut off, grants on its own.
TEST(BrokenVariants, AnEmptyDirTakingTheListsFirstConfigurationIsCaught) {
  EXPECT_NE(ScenarioSeedThatCatches(&cluster::BrokenRules::empty_dir_takes_first_configuration,
                                    SimOptions::Scenario::kWipedAfterShrinking,
                                    "empty dir takes the first configuration", 50),
            0u);
}

// The review of that fix: one of the two removed was down while it was
// removed and comes back knowing the configuration it left; the wiped one
// joins, is told that configuration, and with the whole-cluster rule they
// are a majority of it. A member that joined waits for every member of a
// configuration it was told before it takes that rule.
TEST(BrokenVariants, AJoinedMemberFallingBackUnderAnOldConfigurationIsCaught) {
  EXPECT_NE(ScenarioSeedThatCatches(&cluster::BrokenRules::joined_falls_back_early,
                                    SimOptions::Scenario::kWipedAfterShrinking, "joined falls back early", 100),
            0u);
}

// Script holds go through the same checkers as LOCK's: an acquire script
// that takes keys whoever holds them is caught.
TEST(BrokenVariants, ScriptsIgnoringTheHolderAreCaught) {
  uint64_t caught = 0;
  for (uint64_t seed = 1; seed <= 200 && caught == 0; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.keys = 1;
    options.clients = 5;
    options.broken_script = SimOptions::BrokenScript::kIgnoreHolder;
    const SimReport report = RunSimulation(options);
    if (!report.ok) {
      caught = seed;
      std::printf("scripts ignoring the holder caught at seed %llu: %s\n",
                  static_cast<unsigned long long>(seed), report.violations[0].c_str());
    }
  }
  EXPECT_NE(caught, 0u);
}

TEST(BrokenVariants, ForgottenPromisesAreCaught) {
  EXPECT_NE(SeedThatCatches(&cluster::BrokenRules::forget_promises, "forget promises", 400), 0u);
}

TEST(BrokenVariants, SuccessWithoutMajorityIsCaught) {
  EXPECT_NE(SeedThatCatches(&cluster::BrokenRules::success_without_majority,
                            "success without majority", 100),
            0u);
}

TEST(BrokenVariants, VotingDuringQuarantineIsCaught) {
  EXPECT_NE(SeedThatCatches(&cluster::BrokenRules::vote_in_quarantine, "vote in quarantine", 2000),
            0u);
}

TEST(BrokenVariants, TokensWithoutTheirFloorAreCaught) {
  EXPECT_NE(SeedThatCatches(&cluster::BrokenRules::token_without_floor, "token without floor",
                            400, true),
            0u);
}

// Members with appendonly yes (issue 17), crashing often, alone and
// several at once, every member at once too: they restart from their logs
// without a quarantine, and one holder at a time and growing tokens hold.
SimOptions AppendOnlyCrashes(uint64_t seed) {
  SimOptions options = OptionsForSeed(seed);
  options.appendonly_share = 1.0;
  options.keys = 1;
  options.clients = 5;
  options.rates.crash = 0.1;
  options.rates.crash_several = 0.04;
  options.whole_cluster_crashes = seed % 2 == 0;
  options.rates.crash_in_sync = 0.01;
  return options;
}

TEST(Simulation, AppendOnlyMembersRestartFromTheirLogsAndHold) {
  uint64_t from_log = 0;
  uint64_t unclean = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    const SimReport report = RunSimulation(AppendOnlyCrashes(seed));
    ASSERT_TRUE(report.ok) << "seed " << seed << ": " << report.violations[0];
    const auto count = [&](const char* kind) {
      const auto it = report.faults.find(kind);
      return it == report.faults.end() ? 0 : it->second;
    };
    from_log += static_cast<uint64_t>(count("start: from the log"));
    unclean += static_cast<uint64_t>(count("start: restart without its state"));
  }
  EXPECT_GT(from_log, 200u) << "too few crashes to mean anything";
  // Only a lost disk starts a member of these seeds without its state.
  EXPECT_LT(unclean, from_log / 4);
}

// The log synced one call late: what a member promised or accepted left it
// before it was on disk, and a crash forgets it.
TEST(BrokenVariants, AnswersBeforeTheirSyncAreCaught) {
  uint64_t caught = 0;
  for (uint64_t seed = 1; seed <= 1000 && caught == 0; ++seed) {
    SimOptions options = AppendOnlyCrashes(seed);
    options.broken_sync_after_send = true;
    const SimReport report = RunSimulation(options);
    if (!report.ok) {
      caught = seed;
      std::printf("a log synced after its answers caught at seed %llu: %s\n",
                  static_cast<unsigned long long>(seed), report.violations[0].c_str());
    }
  }
  EXPECT_NE(caught, 0u);
}

// The first seed (of `seeds`) at which members with the log, syncing in
// 1-5 ms and losing power during one sync in ten, break a rule.
uint64_t FirstSeedCaught(const cluster::BrokenRules& broken, uint64_t seeds, const char* what) {
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    SimOptions options = AppendOnlyCrashes(seed);
    options.broken = broken;
    options.sync_us_min = 1'000;
    options.sync_us_max = 5'000;
    options.rates.crash_in_sync = 0.1;
    const SimReport report = RunSimulation(options);
    if (!report.ok) {
      std::printf("%s caught at seed %llu: %s\n", what, static_cast<unsigned long long>(seed),
                  report.violations[0].c_str());
      return seed;
    }
  }
  return 0;
}

// Members that answer others' rounds (promises beyond their reserve,
// accepts) before those answers are synced: a crash forgets a vote that a
// coordinator counted. Only this member's own proposals, and promises
// within the reserve, may leave before the sync.
TEST(BrokenVariants, VotesSentBeforeTheirSyncAreCaught) {
  cluster::BrokenRules broken;
  broken.answers_before_sync = true;
  EXPECT_NE(FirstSeedCaught(broken, 1000, "votes sent before their sync"), 0u);
}

// A member restarted from its log that keeps the promises the log holds,
// instead of promising above its round reserve: a promise it answered
// before the sync, then forgot, no longer binds it.
TEST(BrokenVariants, RestartsThatIgnoreTheRoundReserveAreCaught) {
  cluster::BrokenRules broken;
  broken.restart_ignores_round_reserve = true;
  EXPECT_NE(FirstSeedCaught(broken, 1000, "a restart below the round reserve"), 0u);
}

// Membership changes (issue 18): members added, removed, promoted and
// demoted at random, by random members, racing each other, interleaved
// with every fault (their coordinators crash, pause and are cut off in the
// middle; members lose their disks and join again). A quarter of the seeds
// start from a member alone (1 -> 2 -> 3 ...).
TEST(Simulation, MembershipChangesHoldUnderEveryFault) {
  const uint64_t seeds = std::max<uint64_t>(SeedCount() / 4, 100);
  uint64_t configurations = 0;
  std::map<std::string, int> changes;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    const SimReport report = RunSimulation(OptionsForMembershipChanges(seed));
    ASSERT_TRUE(report.ok) << "membership changes, " << Describe(report);
    configurations += report.last_epoch - 1;
    for (const auto& [kind, count] : report.changes) changes[kind] += count;
  }
  EXPECT_GT(configurations, seeds) << "configurations chosen";
  for (const char* kind : {"membership: add", "membership: remove", "membership: demote",
                           "membership: promote", "membership: done", "membership: no quorum"}) {
    EXPECT_GT(changes[kind], 0) << kind;
  }
  std::printf("%llu seeds, %llu configurations chosen\n", static_cast<unsigned long long>(seeds),
              static_cast<unsigned long long>(configurations));
}

uint64_t FirstReplacementSeedCaught(const cluster::BrokenRules& broken, uint64_t seeds, const char* what) {
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    SimOptions options = OptionsForScenario(SimOptions::Scenario::kReplaceTheWriters, seed);
    options.broken = broken;
    const SimReport report = RunSimulation(options);
    if (!report.ok) {
      std::printf("%s caught at seed %llu: %s\n", what, static_cast<unsigned long long>(seed),
                  report.violations[0].c_str());
      return seed;
    }
  }
  return 0;
}

// A change recorded settled as it is chosen: the writers are removed
// before their keys reach the new voters, and a lease they held is
// granted again.
TEST(BrokenVariants, ChangesWithoutSettlingAreCaught) {
  cluster::BrokenRules broken;
  broken.change_without_settling = true;
  EXPECT_NE(FirstReplacementSeedCaught(broken, 100, "a change without settling"), 0u);
}

// Members that vote in rounds of configurations they have left: the member
// cut off through two changes still finds a majority of its old voters.
TEST(BrokenVariants, VotesInOldEpochsAreCaught) {
  cluster::BrokenRules broken;
  broken.votes_in_old_epochs = true;
  EXPECT_NE(FirstReplacementSeedCaught(broken, 600, "votes in old epochs"), 0u);
}

// A one-round-trip write at a fresh ballot instead of the next step: the
// messages' age limit leaves it too small a window for random faults to
// meet often, so race_test.cc stages it
// (Races.AOneRoundTripRenewalAtAFreshBallotOutranksANewHolder).

}  // namespace
}  // namespace lockerd::sim
