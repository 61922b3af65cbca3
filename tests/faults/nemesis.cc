#include "tests/faults/nemesis.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "tests/faults/workload.h"

namespace lockerd::faults {

const char* FaultName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kKill: return "kill -9";
    case FaultKind::kPause: return "pause";
    case FaultKind::kSplit: return "majority/minority split";
    case FaultKind::kBridge: return "bridge partition";
    case FaultKind::kLoss: return "packet loss";
    case FaultKind::kDelay: return "packet delay";
    case FaultKind::kWallJump: return "wall-clock jump";
    case FaultKind::kKillSeveral: return "kill -9 of two at once";
    case FaultKind::kCleanRestartWithWallStep: return "clean restart with a wall-clock step";
    case FaultKind::kSecondProcessOnDir: return "second process on a dir";
    case FaultKind::kKillAll: return "kill -9 of every member at once";
    case FaultKind::kDiskFull: return "a full disk";
  }
  return "?";
}

std::vector<Fault> ShortSchedule(int64_t seconds, size_t members, bool network, bool netem,
                                 bool kill_all, bool disk_full) {
  std::vector<Fault> kinds = {
      {FaultKind::kKill, 0, 2000, 0},
      {FaultKind::kPause, 0, 3500, 1},  // Longer than the longest ttl (2.5 s).
      {FaultKind::kWallJump, 0, 4000, 2},
      {FaultKind::kCleanRestartWithWallStep, 1000, 1000, 0},
      {FaultKind::kSecondProcessOnDir, 0, 500, 1},
  };
  if (members >= 5) {
    // Two of five at once while the third of the last writers is slow.
    kinds.insert(kinds.begin(), {FaultKind::kKillSeveral, 0, 5000, 3, 4});
  }
  if (kill_all) kinds.push_back({FaultKind::kKillAll, 0, 2000, 0});
  if (disk_full) kinds.push_back({FaultKind::kDiskFull, 0, 3000, 1});
  if (network) {
    kinds.push_back({FaultKind::kSplit, 0, 4000, 2});
    kinds.push_back({FaultKind::kBridge, 0, 4000, 0, 1});
    kinds.push_back({FaultKind::kLoss, 0, 4000, 1});
    if (netem) kinds.push_back({FaultKind::kDelay, 0, 4000, 0});
  }
  // Spread over the run, leaving quiet time between faults and at the end.
  const int64_t slot_ms = (seconds * 1000 - 4000) / static_cast<int64_t>(kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i) {
    kinds[i].at_ms = 2000 + static_cast<int64_t>(i) * slot_ms;
    kinds[i].duration_ms = std::min(kinds[i].duration_ms, slot_ms - 1500);
  }
  return kinds;
}

std::vector<Fault> RandomSchedule(uint64_t seed, int64_t seconds, size_t members, bool network,
                                  bool netem, bool kill_all, bool disk_full) {
  std::mt19937_64 rng(seed);
  const auto uniform = [&rng](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::vector<FaultKind> kinds = {FaultKind::kKill, FaultKind::kPause, FaultKind::kWallJump,
                                  FaultKind::kCleanRestartWithWallStep,
                                  FaultKind::kSecondProcessOnDir};
  if (members >= 5) kinds.push_back(FaultKind::kKillSeveral);
  if (kill_all) kinds.push_back(FaultKind::kKillAll);
  if (disk_full) kinds.push_back(FaultKind::kDiskFull);
  if (network) kinds.insert(kinds.end(), {FaultKind::kSplit, FaultKind::kBridge, FaultKind::kLoss});
  if (network && netem) kinds.push_back(FaultKind::kDelay);
  std::vector<Fault> schedule;
  int64_t at = 2000;
  while (true) {
    Fault fault{kinds[static_cast<size_t>(uniform(0, static_cast<int64_t>(kinds.size()) - 1))], at,
                uniform(500, 5000), static_cast<size_t>(uniform(0, static_cast<int64_t>(members) - 1))};
    fault.other = (fault.target + 1 + static_cast<size_t>(uniform(0, static_cast<int64_t>(members) - 2))) % members;
    if (at + fault.duration_ms > seconds * 1000 - 3000) break;
    schedule.push_back(fault);
    at += fault.duration_ms + uniform(1000, 4000);
  }
  return schedule;
}

Nemesis::Nemesis(Members& members, TestNetwork* network, std::vector<Fault> schedule)
    : members_(members), network_(network), schedule_(std::move(schedule)) {}

Nemesis::~Nemesis() { Stop(); }

void Nemesis::Start(int64_t run_start_us) {
  start_us_ = run_start_us;
  thread_ = std::thread([this] { Run(); });
}

void Nemesis::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Nemesis::Run() {
  for (const Fault& fault : schedule_) {
    const auto wait_until = [this](int64_t at_us) {
      while (!stop_ && NowUs() < at_us) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    };
    wait_until(start_us_ + fault.at_ms * 1000);
    if (stop_) return;
    const int64_t begin_us = NowUs();
    Begin(fault);
    wait_until(begin_us + fault.duration_ms * 1000);
    End(fault);
    std::string description = FaultName(fault.kind);
    if (fault.kind == FaultKind::kLoss) {
      description += " 20% on every member";
    } else if (fault.kind == FaultKind::kWallJump) {
      description += " +1h on member " + std::to_string(members_.jumping_member());
    } else if (fault.kind == FaultKind::kKillSeveral) {
      description += " members " + std::to_string(fault.target) + " and " + std::to_string(fault.other);
    } else {
      description += " member " + std::to_string(fault.target);
    }
    if (fault.kind == FaultKind::kBridge) description += " from " + std::to_string(fault.other);
    windows_.push_back({fault.kind, description, begin_us, NowUs()});
    if (stop_) return;
  }
}

void Nemesis::Begin(const Fault& fault) {
  const size_t n = members_.size();
  switch (fault.kind) {
    case FaultKind::kKill: members_.Kill(fault.target); break;
    case FaultKind::kPause: members_.Pause(fault.target); break;
    case FaultKind::kWallJump: members_.JumpWallClock(3600); break;
    case FaultKind::kSplit:
      for (size_t other = 0; other < n; ++other) {
        if (other != fault.target) network_->Cut(fault.target, other);
      }
      break;
    case FaultKind::kBridge: network_->Cut(fault.target, fault.other); break;
    case FaultKind::kLoss:
      for (size_t i = 0; i < n; ++i) network_->SetLoss(i, 0.2);
      break;
    case FaultKind::kDelay: network_->SetDelay(fault.target, 50); break;
    case FaultKind::kKillSeveral:
      members_.Kill(fault.target);
      members_.Kill(fault.other);
      if (n >= 5) {
        // One of the members that did not crash is slow while they recover.
        for (size_t i = 0; i < n; ++i) {
          if (i != fault.target && i != fault.other) {
            slow_member_ = i;
            break;
          }
        }
        members_.Pause(slow_member_);
      }
      members_.Restart(fault.target);
      members_.Restart(fault.other);
      break;
    case FaultKind::kCleanRestartWithWallStep:
      members_.CleanRestartWithWallStep(fault.target, (fault.at_ms / 1000) % 2 == 0 ? 120 : -120);
      break;
    case FaultKind::kSecondProcessOnDir:
      if (std::string problem = members_.SecondProcessOnDir(fault.target); !problem.empty()) {
        problems_.push_back(std::move(problem));
      }
      break;
    case FaultKind::kKillAll:
      for (size_t i = 0; i < n; ++i) members_.Kill(i);
      for (size_t i = 0; i < n; ++i) members_.Restart(i);
      break;
    case FaultKind::kDiskFull: members_.FillDisk(fault.target); break;
  }
}

void Nemesis::End(const Fault& fault) {
  switch (fault.kind) {
    case FaultKind::kKill: members_.Restart(fault.target); break;
    case FaultKind::kPause: members_.Resume(fault.target); break;
    case FaultKind::kWallJump: members_.JumpWallClock(0); break;
    case FaultKind::kSplit:
    case FaultKind::kBridge: network_->HealAll(); break;
    case FaultKind::kLoss:
      for (size_t i = 0; i < members_.size(); ++i) network_->SetLoss(i, 0);
      break;
    case FaultKind::kDelay: network_->SetDelay(fault.target, 0); break;
    case FaultKind::kKillSeveral:
      if (slow_member_ != SIZE_MAX) members_.Resume(slow_member_);
      slow_member_ = SIZE_MAX;
      break;
    case FaultKind::kCleanRestartWithWallStep:
    case FaultKind::kSecondProcessOnDir:
    case FaultKind::kKillAll:
      break;
    case FaultKind::kDiskFull: members_.FreeDisk(fault.target); break;
  }
}

}  // namespace lockerd::faults
