// The simulator's checks, run by the test command: thousands of seeds with
// faults, determinism, liveness after faults stop, and proof that each
// deliberately broken rule is caught (so the checkers can fail).
#include <gtest/gtest.h>

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
  std::map<std::string, int> faults;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    const SimReport report = RunSeed(seed);
    ASSERT_TRUE(report.ok) << Describe(report);
    holds += report.holds;
    for (const auto& [kind, count] : report.faults) faults[kind] += count;
  }
  // The runs exercised what they claim to.
  EXPECT_GT(holds, seeds * 5);
  for (const char* kind : {"crash", "clean-restart", "pause", "partition", "wall-clock-step",
                           "whole-cluster-crash"}) {
    EXPECT_GT(faults[kind], 0) << kind;
  }
  std::string summary = std::to_string(seeds) + " seeds, " + std::to_string(holds) + " holds;";
  for (const auto& [kind, count] : faults) summary += " " + kind + "=" + std::to_string(count);
  RecordProperty("summary", summary);
  std::printf("%s\n", summary.c_str());
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
}

// Runs seeds with one rule broken until a checker fails; returns the seed
// (0 if none within the budget) and prints what was caught.
uint64_t SeedThatCatches(bool cluster::BrokenRules::*rule, const char* name, uint64_t budget,
                         bool whole_cluster_crashes = false) {
  cluster::Broken() = {};
  cluster::Broken().*rule = true;
  uint64_t caught = 0;
  for (uint64_t seed = 1; seed <= budget && caught == 0; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.keys = 1;
    options.clients = 5;
    options.whole_cluster_crashes = whole_cluster_crashes;
    const SimReport report = RunSimulation(options);
    if (!report.ok) {
      caught = seed;
      std::printf("broken rule '%s' caught at seed %llu: %s\n", name,
                  static_cast<unsigned long long>(seed), report.violations[0].c_str());
    }
  }
  cluster::Broken() = {};
  return caught;
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

}  // namespace
}  // namespace lockerd::sim
