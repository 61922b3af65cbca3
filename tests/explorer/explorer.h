// The bounded exhaustive explorer: from a cluster of real cluster::Node
// members (explored_cluster.h), it walks every sequence of events the
// budgets allow, depth first, runs the safety checker of tests/sim after
// each event, and prunes a state it has already explored (by digest, with
// the depth it was reached at). It stops at the first violation, with the
// events that led to it, which Replay plays back step by step.
//
// It does not pick events at random (tests/sim does) and it contains no
// story of any bug: what it finds, it finds by enumerating. Deliberately
// broken rules (cluster/broken.h) are the caller's to set, in
// ModelOptions::broken.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/explorer/event.h"
#include "tests/explorer/explored_cluster.h"

namespace lockerd::explorer {

struct ExploreOptions {
  ModelOptions model;
  uint64_t max_states = 1'000'000;  // Stops after this many distinct states.
  uint32_t max_depth = 0;           // Events per path; 0: only the budgets bound it.
  double max_seconds = 0;           // 0: no limit.
  // The order events are tried in: by default deliveries, the ends of log
  // syncs and client writes first, then the events that spend a budget;
  // with this, the other way round. Either way every event is tried; the
  // order only decides which violation is found first, and how soon.
  bool faults_first = false;
};

struct ExploreReport {
  std::string problem;       // Options that cannot run (a bad script); nothing ran.
  // Distinct states reached, the first one included (one reached again
  // with more of a budget left counts again: it is explored again).
  uint64_t states = 0;
  uint64_t transitions = 0;  // Events applied.
  uint64_t revisits = 0;     // Events that led to a state already explored.
  uint64_t quiescent = 0;    // States where nothing can happen, or the clients are done.
  uint64_t depth_cuts = 0;   // States not explored further for the depth bound.
  uint32_t max_depth = 0;    // The longest path explored.
  // Every state within the budgets (and the depth bound) was explored,
  // without a violation.
  bool complete = false;
  bool stopped = false;  // By max_states or max_seconds.
  double seconds = 0;
  uint64_t node_calls = 0;
  uint64_t node_rebuilds = 0;
  uint64_t calls_replayed = 0;
  uint64_t replay_mismatches = 0;
  // Membership changes answered on the paths explored, by outcome (done,
  // refused, no quorum, try again: cluster::WriteOutcome's order), and the
  // highest epoch any member adopted: how far the paths took the changes.
  std::array<uint64_t, 4> change_answers{};
  uint64_t max_epoch = 0;
  // The first violation: the checker's words, and the events from the
  // start that led to it.
  std::vector<std::string> violations;
  std::vector<Event> trace;
};

ExploreReport Explore(const ExploreOptions& options);

struct ReplayReport {
  std::string problem;             // A bad script, or an event that was not enabled.
  std::vector<std::string> lines;  // Each event, and what it caused.
  std::vector<std::string> violations;
};

ReplayReport Replay(const ModelOptions& model, const std::vector<Event>& trace);

// One line: states, depth, time, and the outcome.
std::string Summary(const ExploreReport& report);

}  // namespace lockerd::explorer
