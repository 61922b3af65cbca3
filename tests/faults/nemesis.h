// The nemesis: a schedule of faults (from a seed, or the fixed schedule of
// the short run that has every kind at least once), run against the members
// and the test network, with each fault's real window recorded.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "tests/faults/members.h"
#include "tests/faults/test_network.h"

namespace lockerd::faults {

enum class FaultKind {
  kKill,
  kPause,
  kSplit,
  kBridge,
  kLoss,
  kDelay,
  kWallJump,
  // kill -9 of `target` and `other` at once (two of five, or a majority of
  // three); with five or more members, a third member is slow (paused)
  // for the first part of the window, while they recover.
  kKillSeveral,
  // A clean stop of `target`, then a start with its wall clock stepped
  // (forward on even seconds of `at_ms`, back on odd ones).
  kCleanRestartWithWallStep,
  // A second lockerd started on `target`'s dir: it must stop at once.
  kSecondProcessOnDir,
  // kill -9 of every member at once, then every member started again (with
  // appendonly yes only: the members restart from their logs).
  kKillAll,
  // `target`'s disk fills (every free byte taken) for the window, then the
  // room comes back (appendonly yes on small disks: the member answers
  // -MISCONF, stands apart from rounds, and carries on by itself).
  kDiskFull,
};
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
// `kill_all`: also kill -9 every member at once (members with appendonly).
// `disk_full`: also fill a member's disk (Members::small_disks()).
std::vector<Fault> ShortSchedule(int64_t seconds, size_t members, bool network, bool netem,
                                 bool kill_all = false, bool disk_full = false);
// Random faults from a seed, one at a time with quiet gaps.
std::vector<Fault> RandomSchedule(uint64_t seed, int64_t seconds, size_t members, bool network,
                                  bool netem, bool kill_all = false, bool disk_full = false);

class Nemesis {
 public:
  Nemesis(Members& members, TestNetwork* network, std::vector<Fault> schedule);
  ~Nemesis();
  void Start(int64_t run_start_us);
  void Stop();
  std::vector<FaultWindow> windows() const { return windows_; }
  // What went wrong that the history checker cannot see (a second process
  // that ran on a member's dir).
  std::vector<std::string> problems() const { return problems_; }

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
  std::vector<std::string> problems_;
  size_t slow_member_ = SIZE_MAX;  // Paused by a kKillSeveral.
};

}  // namespace lockerd::faults
