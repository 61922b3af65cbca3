#include "tests/faults/members.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/lockerd_process.h"

namespace lockerd::faults {

namespace {
constexpr const char* kFaketimeLibrary = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
// Room for a member's log (compacted from 8 MB on: members run with
// auto-aof-rewrite-min-size 8mb), its state file and a rewrite beside it.
constexpr const char* kSmallDiskOptions = "size=96m";
}

Members::Members(const MemberOptions& options, TestNetwork* network, size_t count,
                 const std::string& dir)
    : options_(options),
      network_(network),
      dir_(dir),
      pids_(count, -1),
      paused_(count, false),
      wall_step_seconds_(count, 0) {
  for (size_t i = 0; i < count; ++i) {
    hosts_.push_back(network ? network->address(i) : "127.0.0.1");
    ports_.push_back(network ? 6379 : testing::FreePort());
    addresses_.push_back(hosts_[i] + ":" + std::to_string(ports_[i]));
    // Each run is a new cluster (on a new subnet): a dir left by an earlier
    // run would be refused for its member list, or start as after a crash.
    // (A small disk an interrupted run left mounted there goes first.)
    ::umount2((dir_ + "/m" + std::to_string(i)).c_str(), MNT_DETACH);
    std::filesystem::remove_all(dir_ + "/m" + std::to_string(i));
    std::filesystem::remove(dir_ + "/m" + std::to_string(i) + ".log");
    std::filesystem::create_directories(dir_ + "/m" + std::to_string(i));
  }
  if (options_.small_disks) {
    small_disks_ = true;
    for (size_t i = 0; i < count; ++i) {
      const std::string member_dir = dir_ + "/m" + std::to_string(i);
      if (::mount("tmpfs", member_dir.c_str(), "tmpfs", 0, kSmallDiskOptions) != 0) {
        small_disks_ = false;
        std::printf("NOTE: full disks are skipped: cannot mount a tmpfs on %s (%s)\n",
                    member_dir.c_str(), std::strerror(errno));
        for (size_t j = 0; j < i; ++j) ::umount2((dir_ + "/m" + std::to_string(j)).c_str(), MNT_DETACH);
        break;
      }
    }
  }
  faketime_file_ = dir_ + "/faketime.rc";
  std::ofstream(faketime_file_) << "+0\n";
}

Members::~Members() {
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (pids_[i] <= 0) continue;
    kill(pids_[i], SIGCONT);
    kill(pids_[i], SIGKILL);
    waitpid(pids_[i], nullptr, 0);
  }
  if (small_disks_) {
    for (size_t i = 0; i < pids_.size(); ++i) ::umount2((dir_ + "/m" + std::to_string(i)).c_str(), MNT_DETACH);
  }
}

void Members::FillDisk(size_t i) {
  const std::string dir = dir_ + "/m" + std::to_string(i);
  struct statvfs space {};
  if (::statvfs(dir.c_str(), &space) != 0) return;
  const auto free_bytes = static_cast<off_t>(space.f_bavail * space.f_frsize);
  const int fd = ::open((dir + "/ballast").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  // Every free byte (tmpfs gives what fallocate asks, up to its size).
  if (::posix_fallocate(fd, 0, free_bytes) != 0) {
    for (off_t size = free_bytes; size > 0 && ::posix_fallocate(fd, 0, size) != 0; size -= 1 << 20) {
    }
  }
  ::close(fd);
}

void Members::FreeDisk(size_t i) { std::filesystem::remove(dir_ + "/m" + std::to_string(i) + "/ballast"); }

bool Members::StartAll() {
  for (size_t i = 0; i < size(); ++i) Start(i);
  bool ready = true;
  for (size_t i = 0; i < size(); ++i) ready = WaitReady(i) && ready;
  return ready;
}

void Members::Start(size_t i) {
  std::string list;
  for (const std::string& address : addresses_) list += (list.empty() ? "" : ",") + address;
  std::vector<std::string> args;
  if (network_) args = {"ip", "netns", "exec", network_->ns(i)};
  args.push_back("env");
  if (std::filesystem::exists(kFaketimeLibrary)) {
    if (i == options_.skewed_member) {
      args.push_back(std::string("LD_PRELOAD=") + kFaketimeLibrary);
      char rate[32];
      std::snprintf(rate, sizeof rate, "FAKETIME=+0 x%.4f", options_.skew_rate);
      args.push_back(rate);
    } else if (i == options_.jumping_member) {
      args.push_back(std::string("LD_PRELOAD=") + kFaketimeLibrary);
      args.push_back("FAKETIME_TIMESTAMP_FILE=" + faketime_file_);
      args.push_back("FAKETIME_CACHE_DURATION=1");
      args.push_back("FAKETIME_DONT_FAKE_MONOTONIC=1");
    } else if (wall_step_seconds_[i] != 0) {
      args.push_back(std::string("LD_PRELOAD=") + kFaketimeLibrary);
      args.push_back("FAKETIME=" + std::string(wall_step_seconds_[i] > 0 ? "+" : "") +
                     std::to_string(wall_step_seconds_[i]) + "s");
      args.push_back("FAKETIME_DONT_FAKE_MONOTONIC=1");
    }
  }
  args.insert(args.end(), {options_.binary, "--bind", hosts_[i], "--port", std::to_string(ports_[i]),
                           "--dir", dir_ + "/m" + std::to_string(i), "--cluster", list,
                           "--advertise", addresses_[i], "--cluster-secret", "faults",
                           "--protected-mode", "no", "--max-lease-ms", "3000",
                           "--round-timeout-ms", "300"});
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  const std::string log = dir_ + "/m" + std::to_string(i) + ".log";
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  pids_[i] = pid;
  paused_[i] = false;
}

bool Members::WaitReady(size_t i) const {
  for (int attempt = 0; attempt < 300; ++attempt) {
    timeval timeout{0, 200'000};
    redisContext* context = redisConnectWithTimeout(hosts_[i].c_str(), ports_[i], timeout);
    const bool ok = context != nullptr && context->err == 0;
    if (context) redisFree(context);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void Members::Kill(size_t i) {
  if (pids_[i] <= 0) return;
  kill(pids_[i], SIGKILL);
  waitpid(pids_[i], nullptr, 0);
  pids_[i] = -1;
  paused_[i] = false;
}

void Members::Restart(size_t i) {
  Kill(i);
  Start(i);
  WaitReady(i);
}

void Members::CleanRestartWithWallStep(size_t i, int seconds) {
  if (pids_[i] > 0) {
    if (paused_[i]) kill(pids_[i], SIGCONT);
    kill(pids_[i], SIGTERM);
    waitpid(pids_[i], nullptr, 0);
    pids_[i] = -1;
  }
  wall_step_seconds_[i] = seconds;
  Start(i);
  WaitReady(i);
}

std::string Members::SecondProcessOnDir(size_t i) {
  const int other_port = ports_[i] + 1000;
  std::vector<std::string> args;
  if (network_) args = {"ip", "netns", "exec", network_->ns(i)};
  args.insert(args.end(), {options_.binary, "--bind", hosts_[i], "--port", std::to_string(other_port),
                           "--dir", dir_ + "/m" + std::to_string(i), "--protected-mode", "no"});
  // The same binary as the members, with what it needs to start (lockerd_broken's rule).
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  const std::string log = dir_ + "/m" + std::to_string(i) + "-second.log";
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  for (int waited_ms = 0; waited_ms < 5000; waited_ms += 10) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      std::ifstream file(log);
      std::ostringstream text;
      text << file.rdbuf();
      const bool named = text.str().find("in use by another lockerd process (pid " +
                                         std::to_string(pids_[i])) != std::string::npos;
      if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && named) return {};
      return "the second process on member " + std::to_string(i) + "'s dir exited without naming " +
             "the holder: " + text.str();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return "a second process ran on member " + std::to_string(i) + "'s dir";
}

void Members::Pause(size_t i) {
  if (pids_[i] <= 0 || paused_[i]) return;
  kill(pids_[i], SIGSTOP);
  paused_[i] = true;
}

void Members::Resume(size_t i) {
  if (pids_[i] <= 0 || !paused_[i]) return;
  kill(pids_[i], SIGCONT);
  paused_[i] = false;
}

void Members::JumpWallClock(int seconds) {
  std::ofstream(faketime_file_) << (seconds >= 0 ? "+" : "") << seconds << "\n";
}

std::string Members::Logs() const {
  std::string text;
  for (size_t i = 0; i < size(); ++i) {
    std::ifstream file(dir_ + "/m" + std::to_string(i) + ".log");
    std::ostringstream content;
    content << file.rdbuf();
    text += "--- member " + std::to_string(i) + " ---\n" + content.str();
  }
  return text;
}

bool Members::LogsShowErrors() const {
  const std::string logs = Logs();
  return logs.find("CHECK failed") != std::string::npos ||
         logs.find("Sanitizer") != std::string::npos ||
         logs.find("runtime error:") != std::string::npos;
}

}  // namespace lockerd::faults
