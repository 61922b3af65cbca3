// The cluster under test: real lockerd processes, each inside its member's
// network namespace (or on loopback when there is no test network), with
// its own data dir and log, started, killed (-9), paused (SIGSTOP),
// resumed, restarted and stopped cleanly by PID. One member may run under
// libfaketime: its clocks run at a skewed rate, or its wall clock jumps on
// request; any other member may be restarted with its wall clock stepped.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/faults/test_network.h"

namespace lockerd::faults {

struct MemberOptions {
  std::string binary;
  std::vector<std::string> extra_args;  // E.g. lockerd_broken's --break-rule NAME.
  size_t skewed_member = 1;    // Runs with its clocks at `skew_rate`.
  double skew_rate = 1.004;    // Within the drift bound (rho/2 = 0.5%).
  size_t jumping_member = 2;   // Its wall clock can jump (monotonic untouched).
  // Each member's dir is a tmpfs of its own (appendonly runs), which
  // FillDisk fills up; left out where tmpfs cannot be mounted (not root).
  bool small_disks = false;
};

class Members {
 public:
  // `network` may be null: members then listen on 127.0.0.1 ports.
  Members(const MemberOptions& options, TestNetwork* network, size_t count, const std::string& dir);
  ~Members();

  size_t size() const { return addresses_.size(); }
  size_t jumping_member() const { return options_.jumping_member; }
  const std::string& host(size_t i) const { return hosts_[i]; }
  int port(size_t i) const { return ports_[i]; }

  // False when a member did not come up (its log says why).
  bool StartAll();
  bool Up(size_t i) const { return pids_[i] > 0 && !paused_[i]; }
  void Kill(size_t i);     // kill -9; the process is reaped.
  void Restart(size_t i);  // Same address, dir and settings.
  // SIGTERM (a clean stop that saves the member's state), then a start with
  // its wall clock `seconds` off (libfaketime, monotonic and boot clocks
  // untouched): an RTC or NTP correction while it was down.
  void CleanRestartWithWallStep(size_t i, int seconds);
  // Starts a second lockerd on member i's dir (another port): it must stop
  // at once, naming the first one's pid. "" when it did; else what
  // happened (it is then killed).
  std::string SecondProcessOnDir(size_t i);
  void Pause(size_t i);
  void Resume(size_t i);
  // Steps the jumping member's wall clock by `seconds` (0: back to real).
  void JumpWallClock(int seconds);
  // With small_disks: fills member i's disk (a ballast file takes every
  // free byte), then gives the room back.
  bool small_disks() const { return small_disks_; }
  void FillDisk(size_t i);
  void FreeDisk(size_t i);
  std::string Logs() const;  // Every member's log, for a failure report.
  bool LogsShowErrors() const;

 private:
  void Start(size_t i);
  bool WaitReady(size_t i) const;

  MemberOptions options_;
  TestNetwork* network_;
  std::string dir_;
  std::vector<std::string> hosts_;
  std::vector<int> ports_;
  std::vector<std::string> addresses_;  // host:port, the --cluster list.
  std::vector<pid_t> pids_;
  std::vector<bool> paused_;
  std::vector<int> wall_step_seconds_;  // Applied when the member starts.
  std::string faketime_file_;
  bool small_disks_ = false;
};

}  // namespace lockerd::faults
