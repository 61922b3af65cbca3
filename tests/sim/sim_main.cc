// lockerd_sim: runs the cluster simulator from the command line.
//   lockerd_sim --seeds 100000 [--start 1]   many seeds; prints failures
//   lockerd_sim --replay SEED                one seed, every event printed
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "tests/sim/world.h"

int main(int argc, char** argv) {
  uint64_t seeds = 10000;
  uint64_t start = 1;
  long long replay = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seeds") == 0) seeds = std::strtoull(argv[i + 1], nullptr, 10);
    else if (std::strcmp(argv[i], "--start") == 0) start = std::strtoull(argv[i + 1], nullptr, 10);
    else if (std::strcmp(argv[i], "--replay") == 0) replay = std::strtoll(argv[i + 1], nullptr, 10);
  }
  using lockerd::sim::SimReport;
  if (replay >= 0) {
    lockerd::sim::SimOptions options = lockerd::sim::OptionsForSeed(static_cast<uint64_t>(replay));
    options.verbose = true;
    const SimReport report = lockerd::sim::RunSimulation(options);
    std::printf("seed %lld: %s, %llu holds, %llu events, trace %016llx\n", replay,
                report.ok ? "ok" : "FAILED", static_cast<unsigned long long>(report.holds),
                static_cast<unsigned long long>(report.events),
                static_cast<unsigned long long>(report.trace_hash));
    for (const auto& violation : report.violations) std::printf("  %s\n", violation.c_str());
    return report.ok ? 0 : 1;
  }
  const auto began = std::chrono::steady_clock::now();
  uint64_t failed = 0;
  uint64_t holds = 0;
  std::map<std::string, long> faults;
  for (uint64_t seed = start; seed < start + seeds; ++seed) {
    const SimReport report = lockerd::sim::RunSeed(seed);
    holds += report.holds;
    for (const auto& [kind, count] : report.faults) faults[kind] += count;
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
  std::printf("\n");
  return failed == 0 ? 0 : 1;
}
