// Reads the run's history and says what went wrong, as a user would see it:
// holds of one key that overlap in real time, tokens that did not grow from
// one holder to the next, writes the guarded resource refused, acknowledged
// RELEASEs whose key stayed held on a majority; and how available the
// service was overall and during each kind of fault.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tests/faults/nemesis.h"
#include "tests/faults/workload.h"

namespace lockerd::faults {

struct Availability {
  size_t attempts = 0;
  size_t answered = 0;
  size_t acquired = 0;
  int64_t longest_gap_ms = 0;  // Without a successful acquire.
};

struct Report {
  size_t holds = 0;
  size_t store_writes = 0;
  size_t overlaps = 0;
  size_t token_regressions = 0;
  size_t store_rejections = 0;
  size_t releases_still_held = 0;
  size_t releases_checked = 0;
  std::vector<std::string> examples;  // The first few violations, spelled out.
  Availability overall;
  std::map<std::string, Availability> by_fault;  // By fault kind.
  std::map<std::string, int> faults;             // Count by kind.

  size_t violations() const {
    return overlaps + token_regressions + store_rejections + releases_still_held;
  }
};

Report Check(const Workload& workload, const std::vector<FaultWindow>& windows, int64_t start_us,
             int64_t end_us, size_t members);
std::string Format(const Report& report);
// A PNG timeline of holds (one lane per client, colour per key) and fault
// windows, drawn with gnuplot; returns the PNG's path, or "" without gnuplot.
std::string WriteTimeline(const std::string& dir, const Workload& workload,
                          const std::vector<FaultWindow>& windows, int64_t start_us);

}  // namespace lockerd::faults
