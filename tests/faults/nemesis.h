// The nemesis: a schedule of faults (from a seed, or the fixed schedule of
// the short run that has every kind at least once), run against the members
// and the test network, with each fault's real window recorded.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "tests/faults/members.h"
#include "tests/faults/test_network.h"

namespace lockerd::faults {

enum class FaultKind { kKill, kPause, kSplit, kBridge, kLoss, kDelay, kWallJump };
const char* FaultName(FaultKind kind);

struct Fault {
  FaultKind kind;
  int64_t at_ms;        // From the start of the run.
  int64_t duration_ms;
  size_t target;        // The member it hits (for kBridge: the one cut from `other`).
  size_t other = 0;
};

struct FaultWindow {
  FaultKind kind;
  std::string description;
  int64_t start_us;
  int64_t end_us;
};

// Every kind once, spaced out, within `seconds`; kinds that need what the
// machine lacks (a test network, netem) are left out.
std::vector<Fault> ShortSchedule(int64_t seconds, bool network, bool netem);
// Random faults from a seed, one at a time with quiet gaps.
std::vector<Fault> RandomSchedule(uint64_t seed, int64_t seconds, size_t members, bool network,
                                  bool netem);

class Nemesis {
 public:
  Nemesis(Members& members, TestNetwork* network, std::vector<Fault> schedule);
  ~Nemesis();
  void Start(int64_t run_start_us);
  void Stop();
  std::vector<FaultWindow> windows() const { return windows_; }

 private:
  void Run();
  void Begin(const Fault& fault);
  void End(const Fault& fault);

  Members& members_;
  TestNetwork* network_;
  std::vector<Fault> schedule_;
  int64_t start_us_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<FaultWindow> windows_;
};

}  // namespace lockerd::faults
