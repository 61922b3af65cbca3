// lockerd_faults: the fault-injection suite on real processes. Starts a
// 3-member cluster (each member in its own network namespace when run as
// root), a workload of concurrent lock clients and a nemesis, then checks
// the history. Exit status 0 when no safety violation was seen, 1 when one
// was, 2 when it could not run.
//
//   lockerd_faults --short                      the test command's run (60 s)
//   lockerd_faults --seconds 600 --seed 7 --report DIR     a long run
//   lockerd_faults --short --members 5          five members (kill two at once)
//   lockerd_faults --short --appendonly         members with appendonly yes (and
//       kill -9 of every member at once; as root, each member's dir a small
//       tmpfs, and a full disk)
//   lockerd_faults --short --break-rule R --expect-violations
//       with a safety rule broken on purpose: succeeds only if caught (the
//       members then run lockerd_broken, the test-only lockerd that can
//       break one, unless --binary names another)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/faults/checker.h"
#include "tests/faults/members.h"
#include "tests/faults/nemesis.h"
#include "tests/faults/test_network.h"
#include "tests/faults/workload.h"

namespace {

struct Args {
  bool short_run = false;
  int64_t seconds = 60;
  uint64_t seed = 1;
  std::string report_dir;
  std::string binary;  // Empty: lockerd, or lockerd_broken with --break-rule.
  std::string break_rule;
  bool expect_violations = false;
  size_t clients = 8;
  size_t keys = 3;
  size_t members = 3;
  bool appendonly = false;
};

Args Parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (flag == "--short") args.short_run = true;
    else if (flag == "--seconds") args.seconds = std::atoll(value().c_str());
    else if (flag == "--seed") args.seed = std::strtoull(value().c_str(), nullptr, 10);
    else if (flag == "--report") args.report_dir = value();
    else if (flag == "--binary") args.binary = value();
    else if (flag == "--break-rule") args.break_rule = value();
    else if (flag == "--expect-violations") args.expect_violations = true;
    else if (flag == "--clients") args.clients = std::strtoull(value().c_str(), nullptr, 10);
    else if (flag == "--members") args.members = std::strtoull(value().c_str(), nullptr, 10);
    else if (flag == "--appendonly") args.appendonly = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", flag.c_str());
      std::exit(2);
    }
  }
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace lockerd::faults;
  const Args args = Parse(argc, argv);
  const std::string dir = args.report_dir.empty()
                              ? (std::filesystem::temp_directory_path() /
                                 ("lockerd-faults-" + std::to_string(getpid()))).string()
                              : args.report_dir;
  std::filesystem::create_directories(dir);

  std::string why_not;
  std::unique_ptr<TestNetwork> network = TestNetwork::Create(args.members, &why_not);
  if (!network) {
    std::printf("NOTE: partitions, packet loss and delay are skipped: %s; members run on loopback\n",
                why_not.c_str());
  } else if (!network->netem_available()) {
    std::printf("NOTE: packet delay is skipped: this kernel has no tc netem (sch_netem); "
                "loss uses iptables\n");
  }
  MemberOptions member_options;
  member_options.binary = args.binary;
  if (!args.break_rule.empty()) {
    if (member_options.binary.empty()) member_options.binary = LOCKERD_BROKEN_BINARY;
    member_options.extra_args = {"--break-rule", args.break_rule};
  }
  if (member_options.binary.empty()) member_options.binary = LOCKERD_BINARY;
  if (args.appendonly) {
    member_options.extra_args.insert(member_options.extra_args.end(),
                                     {"--appendonly", "yes", "--auto-aof-rewrite-min-size", "8mb"});
    member_options.small_disks = true;
  }
  Members members(member_options, network.get(), args.members, dir);
  if (!members.StartAll()) {
    std::printf("could not run: a member did not start\n%s", members.Logs().c_str());
    return 2;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // Peer links come up.

  const std::vector<Fault> schedule =
      args.short_run ? ShortSchedule(args.seconds, args.members, network != nullptr,
                                     network && network->netem_available(), args.appendonly,
                                     members.small_disks())
                     : RandomSchedule(args.seed, args.seconds, args.members, network != nullptr,
                                      network && network->netem_available(), args.appendonly,
                                      members.small_disks());
  Workload workload(members, args.clients, args.keys, args.seed, /*drift=*/0.01);
  Nemesis nemesis(members, network.get(), schedule);
  const int64_t start_us = NowUs();
  workload.Start();
  nemesis.Start(start_us);
  std::this_thread::sleep_for(std::chrono::seconds(args.seconds));
  nemesis.Stop();
  workload.Stop();
  const int64_t end_us = NowUs();

  const std::vector<FaultWindow> windows = nemesis.windows();
  const Report report = Check(workload, windows, start_us, end_us, members.size());
  std::string text = "lockerd fault run: " + std::to_string(args.members) + " members, " +
                     std::to_string(args.seconds) + " s, seed " +
                     std::to_string(args.seed) + (args.short_run ? " (short schedule)" : "") +
                     (network ? ", members in network namespaces" : ", loopback") +
                     (args.appendonly ? ", appendonly yes" : "") +
                     (args.break_rule.empty() ? "" : ", BROKEN RULE " + args.break_rule) + "\n" +
                     "clock rate skew x" + std::to_string(member_options.skew_rate) + " on member " +
                     std::to_string(member_options.skewed_member) + " for the whole run\n" +
                     Format(report);
  const bool member_errors = members.LogsShowErrors();
  if (member_errors) text += "MEMBER LOGS SHOW AN ERROR (sanitizer report or failed CHECK)\n";
  const std::vector<std::string> problems = nemesis.problems();
  for (const std::string& problem : problems) text += "PROBLEM: " + problem + "\n";
  std::ofstream(dir + "/report.txt") << text;
  const std::string png = args.report_dir.empty() || args.short_run
                              ? ""
                              : WriteTimeline(dir, workload, windows, start_us);
  std::printf("%s", text.c_str());
  if (!png.empty()) std::printf("timeline: %s\n", png.c_str());
  const bool violated = report.violations() > 0 || member_errors || !problems.empty();
  // Keep the run's logs when asked to, or when the outcome is a failure.
  const bool failed = args.expect_violations ? !violated : violated;
  if (args.report_dir.empty() && !failed) {
    std::filesystem::remove_all(dir);
  } else {
    std::printf("run directory (logs, report): %s\n", dir.c_str());
  }
  if (args.expect_violations) {
    std::printf(violated ? "the broken rule was caught\n" : "the broken rule was NOT caught\n");
    return violated ? 0 : 1;
  }
  if (report.holds < 10) {
    std::printf("too few holds to judge anything\n");
    return 2;
  }
  return violated ? 1 : 0;
}
