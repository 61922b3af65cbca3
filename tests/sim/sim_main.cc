// lockerd_sim: runs the cluster simulator from the command line.
//   lockerd_sim --seeds 100000 [--start 1]   many seeds; prints failures
//   lockerd_sim --replay SEED                one seed, every event printed
//   lockerd_sim --no-scripts ...             without script (transaction) clients
//   lockerd_sim --break-rule NAME ...        a cluster rule broken on purpose
//   lockerd_sim --scenario NAME ...          one of issue 14's restart scenarios
//   lockerd_sim --broken-script KIND ...     scripts with a deliberate bug
//   lockerd_sim --shared-owner ...           clients sharing one owner name (SET NX, DEL)
//   lockerd_sim --membership ...             membership changes among the faults (issue 18)
//                                            (ignore-holder, shorten-renewals)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

#include "cluster/broken.h"
#include "tests/sim/world.h"

int main(int argc, char** argv) {
  uint64_t seeds = 10000;
  uint64_t start = 1;
  long long replay = -1;
  bool scripts = true;
  auto broken_script = lockerd::sim::SimOptions::BrokenScript::kNone;
  std::optional<lockerd::sim::SimOptions::Scenario> scenario;
  bool shared_owner = false;
  bool membership = false;
  lockerd::cluster::BrokenRules broken;
  // The options of a seed: the varied mix, a restart scenario's, or shared owners'.
  const auto options_for = [&scenario, &shared_owner, &membership](uint64_t seed) {
    if (shared_owner) return lockerd::sim::OptionsForSharedOwner(seed);
    if (membership) return lockerd::sim::OptionsForMembershipChanges(seed);
    return scenario ? lockerd::sim::OptionsForScenario(*scenario, seed) : lockerd::sim::OptionsForSeed(seed);
  };
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::printf(
          "usage: lockerd_sim [--seeds N] [--start S] [--no-scripts] [--broken-script KIND]\n"
          "       lockerd_sim --replay SEED [--no-scripts] [--broken-script KIND]\n"
          "  --seeds N       run N seeds (default 10000) from --start (default 1)\n"
          "  --replay SEED   run one seed and print every event\n"
          "  --no-scripts    clients use LOCK, EXTEND and RELEASE only (no transactions)\n"
          "  --scenario crash-all-but-one|clean-restart-clock-step|clean-restart-after-release|\n"
          "             link-backlog|replaced-disk|replace-the-writers|wiped-after-shrinking\n"
          "                  the seeds run one of issue 14's restart scenarios\n"
          "  --break-rule NAME\n"
          "                  a cluster rule broken on purpose (cluster/broken.h), for the\n"
          "                  checkers to catch\n"
          "  --shared-owner  clients share one owner name: SET NX, then DEL or RELEASE\n"
          "  --membership    members are added, removed, promoted and demoted meanwhile\n"
          "  --broken-script ignore-holder|shorten-renewals\n"
          "                  scripts with a deliberate bug, for the checkers to catch\n");
      return 0;
    }
    if (std::strcmp(argv[i], "--no-scripts") == 0) {
      scripts = false;
      continue;
    }
    if (std::strcmp(argv[i], "--membership") == 0) {
      membership = true;
      continue;
    }
    if (std::strcmp(argv[i], "--shared-owner") == 0) {
      shared_owner = true;
      continue;
    }
    if (i + 1 >= argc) break;
    if (std::strcmp(argv[i], "--broken-script") == 0) {
      using Broken = lockerd::sim::SimOptions::BrokenScript;
      if (std::strcmp(argv[i + 1], "ignore-holder") == 0) {
        broken_script = Broken::kIgnoreHolder;
      } else if (std::strcmp(argv[i + 1], "shorten-renewals") == 0) {
        broken_script = Broken::kShortenRenewals;
      } else {
        std::fprintf(stderr, "unknown --broken-script %s\n", argv[i + 1]);
        return 2;
      }
    } else if (std::strcmp(argv[i], "--break-rule") == 0) {
      if (!lockerd::cluster::BreakRule(argv[i + 1], broken)) {
        std::fprintf(stderr, "unknown --break-rule %s (one of: %s)\n", argv[i + 1],
                     lockerd::cluster::BrokenRuleNames().c_str());
        return 2;
      }
    } else if (std::strcmp(argv[i], "--scenario") == 0) {
      scenario = lockerd::sim::ScenarioNamed(argv[i + 1]);
      if (!scenario) {
        std::fprintf(stderr, "unknown --scenario %s\n", argv[i + 1]);
        return 2;
      }
    } else if (std::strcmp(argv[i], "--seeds") == 0) {
      seeds = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--start") == 0) {
      start = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--replay") == 0) {
      replay = std::strtoll(argv[i + 1], nullptr, 10);
    }
    ++i;
  }
  using lockerd::sim::SimReport;
  if (replay >= 0) {
    lockerd::sim::SimOptions options = options_for(static_cast<uint64_t>(replay));
    options.scripts = scripts && options.scripts;
    options.broken_script = broken_script;
    options.broken = broken;
    options.verbose = true;
    const SimReport report = lockerd::sim::RunSimulation(options);
    std::printf("seed %lld: %s, %llu holds, %llu events, trace %016llx\n", replay,
                report.ok ? "ok" : "FAILED", static_cast<unsigned long long>(report.holds),
                static_cast<unsigned long long>(report.events),
                static_cast<unsigned long long>(report.trace_hash));
    for (const auto& violation : report.violations) std::printf("  %s\n", violation.c_str());
    for (const auto& [kind, count] : report.changes) std::printf("  %s=%d\n", kind.c_str(), count);
    return report.ok ? 0 : 1;
  }
  const auto began = std::chrono::steady_clock::now();
  uint64_t failed = 0;
  uint64_t holds = 0;
  uint64_t script_holds = 0;
  uint64_t scripts_run = 0;
  uint64_t scripts_done = 0;
  std::map<std::string, uint64_t> rounds;
  std::map<std::string, long> faults;
  std::map<std::string, long> changes;
  uint64_t epochs = 0;
  std::map<std::string, unsigned long long> txn;
  std::map<std::string, unsigned long long> script_kinds;
  for (uint64_t seed = start; seed < start + seeds; ++seed) {
    lockerd::sim::SimOptions options = options_for(seed);
    options.scripts = scripts && options.scripts;
    options.broken_script = broken_script;
    options.broken = broken;
    const SimReport report = lockerd::sim::RunSimulation(options);
    holds += report.holds;
    script_holds += report.script_holds;
    scripts_run += report.scripts;
    scripts_done += report.scripts_done;
    for (const auto& [kind, count] : report.faults) faults[kind] += count;
    for (const auto& [kind, count] : report.changes) changes[kind] += count;
    epochs += report.last_epoch - 1;
    for (const auto& [kind, count] : report.txn) txn[kind] += count;
    for (const auto& [kind, count] : report.rounds) rounds[kind] += count;
    for (const auto& [kind, count] : report.script_kinds) script_kinds[kind] += count;
    if (!report.ok) {
      ++failed;
      std::printf("seed %llu FAILED (replay: lockerd_sim --replay %llu)\n",
                  static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
      for (const auto& violation : report.violations) std::printf("  %s\n", violation.c_str());
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::printf("%llu seeds from %llu in %.1f s: %llu failed, %llu holds;",
              static_cast<unsigned long long>(seeds), static_cast<unsigned long long>(start),
              seconds, static_cast<unsigned long long>(failed),
              static_cast<unsigned long long>(holds));
  for (const auto& [kind, count] : faults) std::printf(" %s=%ld", kind.c_str(), count);
  std::printf("\nscripts: %llu run, %llu done, %llu holds via scripts; txn:",
              static_cast<unsigned long long>(scripts_run),
              static_cast<unsigned long long>(scripts_done),
              static_cast<unsigned long long>(script_holds));
  for (const auto& [kind, count] : txn) std::printf(" %s=%llu", kind.c_str(), count);
  std::printf("\nsingle-key rounds:");
  for (const auto& [kind, count] : rounds) {
    std::printf(" %s=%llu", kind.c_str(), static_cast<unsigned long long>(count));
  }
  if (!changes.empty()) {
    std::printf("\nmembership: %llu configurations chosen;", static_cast<unsigned long long>(epochs));
    for (const auto& [kind, count] : changes) std::printf(" %s=%ld", kind.c_str(), count);
  }
  std::printf("\nscripts by kind:");
  for (const auto& [kind, count] : script_kinds) std::printf(" %s=%llu", kind.c_str(), count);
  std::printf("\n");
  return failed == 0 ? 0 : 1;
}
