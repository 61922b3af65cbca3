// A deterministic simulation of a lockerd cluster: N members running the
// real cluster::Node code, simulated clients, a network that drops, delays,
// duplicates and reorders, partitions that heal, crashes (losing memory),
// clean restarts, pauses, and member clocks that drift within the documented
// bound. Everything comes from one seed; the same seed gives the same trace
// (see trace_hash). Time is virtual, in microseconds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "cluster/node.h"
#include "tests/sim/checker.h"

namespace lockerd::sim {

struct SimOptions {
  uint64_t seed = 1;
  size_t members = 3;
  size_t clients = 4;
  size_t keys = 2;
  int64_t fault_phase_ms = 6000;  // Faults happen during this phase...
  int64_t quiet_phase_ms = 5000;  // ...then stop; the probe must succeed.
  int64_t max_lease_ms = 800;
  double drift = 0.01;            // rho; member clocks run within rho/2.
  int64_t round_timeout_ms = 120;
  bool faults = true;
  bool whole_cluster_crashes = false;  // Also crash every member at once.
  bool verbose = false;                // Print every event (for --replay).
};

struct SimReport {
  uint64_t seed = 0;
  bool ok = true;
  std::vector<std::string> violations;
  uint64_t trace_hash = 0;
  uint64_t events = 0;
  uint64_t holds = 0;
  uint64_t messages = 0;
  std::map<std::string, int> faults;  // By kind.
};

SimReport RunSimulation(const SimOptions& options);
// The options a seed runs with (members, clients, keys, fault mix).
SimOptions OptionsForSeed(uint64_t seed);
SimReport RunSeed(uint64_t seed);

}  // namespace lockerd::sim
