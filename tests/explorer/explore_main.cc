// lockerd_explore: the bounded exhaustive explorer from the command line,
// for budgets too large for the test command and for replaying a trace.
//
//   lockerd_explore --network partitions --script again --restarts 1
//       --partitions 2 --break-rule save-held-leases-only
//   lockerd_explore <the same options> --replay "p1 s0.1 s0.2 ..."
//   lockerd_explore --network partitions --members 3 --spares 1
//       --script replace-the-writers --partitions 2 --drops 1
//
// Exit status: 0 when no violation was found, 1 when one was, 2 for bad
// flags. It does not run the random simulator (lockerd_sim does).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "cluster/broken.h"
#include "tests/explorer/explorer.h"

namespace lockerd::explorer {
namespace {

// One list of flags for parsing and for --help.
struct Flag {
  const char* name;
  const char* help;
  bool takes_value;
  std::function<bool(const char* value)> set;
};

template <typename Number>
std::function<bool(const char*)> NumberInto(Number* out) {
  return [out](const char* text) {
    char* end = nullptr;
    const double value = std::strtod(text, &end);
    if (end == text || *end != '\0' || value < 0) return false;
    *out = static_cast<Number>(value);
    return true;
  };
}

std::vector<Flag> Flags(ExploreOptions* options, std::string* replay) {
  ModelOptions& model = options->model;
  Budgets& budgets = model.budgets;
  const auto on = [](bool* flag) {
    return [flag](const char*) { return *flag = true; };
  };
  return {
      {"--members", "members of the first configuration, all voters (3)", true,
       NumberInto(&model.members)},
      {"--spares", "processes outside the first configuration, for the script's membership "
                   "changes ('add m3'; preset grow-1-to-3 with --members 1 --spares 2, the "
                   "others with --members 3 --spares 1); 7 processes at most (0)",
       true, NumberInto(&model.spares)},
      {"--keys", "keys (1)", true, NumberInto(&model.keys)},
      {"--script", "the clients' writes and membership changes ('A: lock, release; O: add m3, "
                   "remove m0 @m1'), or a preset's name (lock-release)", true,
       [&model](const char* text) { return (model.script = text, true); }},
      {"--network", "messages: each arrival is a choice (default); partitions: the "
                    "choice is which minority is cut off, the rest arrives at once",
       true,
       [&model](const char* name) {
         const std::string_view text = name;
         if (text != "messages" && text != "partitions") return false;
         model.network = text == "messages" ? NetworkModel::kMessages : NetworkModel::kPartitions;
         return true;
       }},
      {"--splits", "deliveries whose answer stays in flight (0)", true,
       NumberInto(&budgets.splits)},
      {"--drops", "messages lost; with FIFO links, a link's queue (0)", true,
       NumberInto(&budgets.drops)},
      {"--crashes", "restarts without memory (0)", true, NumberInto(&budgets.crashes)},
      {"--disk-losses", "restarts with an empty dir (0)", true, NumberInto(&budgets.disk_losses)},
      {"--restarts", "clean restarts (0)", true, NumberInto(&budgets.restarts)},
      {"--wall-steps", "clean restarts with the wall clock stepped forward (0)", true,
       NumberInto(&budgets.wall_steps)},
      {"--timers", "times that time passes (0)", true, NumberInto(&budgets.timers)},
      {"--partitions", "changes of the minority cut off (0)", true,
       NumberInto(&budgets.partitions)},
      {"--step-ms", "time may also pass by this much (0: only to timers)", true,
       NumberInto(&model.step_ms)},
      {"--wall-step-ms", "how far a stepped wall clock jumps (3000)", true,
       NumberInto(&model.wall_step_ms)},
      {"--appendonly", "members keep the log (appendonly yes): a crash restarts from its last "
                       "sync",
       false, on(&model.appendonly)},
      {"--any-order", "messages may overtake each other (default: FIFO links)", false,
       [&model](const char*) { return !(model.fifo_links = false); }},
      {"--no-round-trips", "answers are deliveries of their own", false,
       [&model](const char*) { return !(model.round_trips = false); }},
      {"--max-lease-ms", "max-lease-ms (1000)", true, NumberInto(&model.max_lease_ms)},
      {"--round-timeout-ms", "round timeout (100)", true, NumberInto(&model.round_timeout_ms)},
      {"--max-states", "stop after this many distinct states (1000000)", true,
       NumberInto(&options->max_states)},
      {"--max-depth", "events per path (0: the budgets only)", true,
       NumberInto(&options->max_depth)},
      {"--max-seconds", "stop after this long (0: no limit)", true,
       NumberInto(&options->max_seconds)},
      {"--faults-first", "try the events that spend a budget first", false,
       on(&options->faults_first)},
      {"--break-rule", "break a rule of cluster/broken.h on purpose", true,
       [&model](const char* name) { return cluster::BreakRule(name, model.broken); }},
      {"--replay", "play this trace (as printed) with these options", true,
       [replay](const char* text) { return (*replay = text, true); }},
  };
}

void Usage(const std::vector<Flag>& flags) {
  std::printf("usage: lockerd_explore [flags]\n");
  for (const Flag& flag : flags) {
    std::printf("  %-20s %s\n", (std::string(flag.name) + (flag.takes_value ? " X" : "")).c_str(),
                flag.help);
  }
  std::printf("script presets:\n%sbroken rules: %s\n", ScriptPresets().c_str(),
              cluster::BrokenRuleNames().c_str());
}

// Returns false after saying what is wrong.
bool ParseFlags(int argc, char** argv, const std::vector<Flag>& flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view name = argv[i];
    const Flag* flag = nullptr;
    for (const Flag& known : flags) {
      if (name == known.name) flag = &known;
    }
    if (flag == nullptr) {
      std::fprintf(stderr, "unknown flag %s (--help lists them)\n", argv[i]);
      return false;
    }
    const char* value = flag->takes_value ? (i + 1 < argc ? argv[++i] : nullptr) : "";
    if (value == nullptr || !flag->set(value)) {
      std::fprintf(stderr, "bad value for %s\n", flag->name);
      return false;
    }
  }
  return true;
}

int RunReplay(const ExploreOptions& options, const std::string& text) {
  const auto trace = DecodeTrace(text);
  if (!trace) {
    std::fprintf(stderr, "cannot read the trace\n");
    return 2;
  }
  const ReplayReport report = Replay(options.model, *trace);
  for (const std::string& line : report.lines) std::printf("%s\n", line.c_str());
  if (!report.problem.empty()) {
    std::fprintf(stderr, "%s\n", report.problem.c_str());
    return 2;
  }
  for (const std::string& violation : report.violations) {
    std::printf("VIOLATION: %s\n", violation.c_str());
  }
  return report.violations.empty() ? 0 : 1;
}

void PrintCounts(const ExploreReport& report) {
  const auto n = [](uint64_t count) { return static_cast<unsigned long long>(count); };
  std::printf(
      "  %llu revisits, %llu quiescent, %llu depth cuts; %llu node calls, %llu rebuilds "
      "(%llu calls replayed, %llu mismatches)\n",
      n(report.revisits), n(report.quiescent), n(report.depth_cuts), n(report.node_calls),
      n(report.node_rebuilds), n(report.calls_replayed), n(report.replay_mismatches));
}

int Run(int argc, char** argv) {
  ExploreOptions options;
  std::string replay;
  const std::vector<Flag> flags = Flags(&options, &replay);
  if (argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    Usage(flags);
    return 0;
  }
  if (!ParseFlags(argc, argv, flags)) return 2;
  if (!replay.empty()) return RunReplay(options, replay);
  const ExploreReport report = Explore(options);
  if (!report.problem.empty()) {
    std::fprintf(stderr, "%s\n", report.problem.c_str());
    return 2;
  }
  std::printf("%s\n", Summary(report).c_str());
  PrintCounts(report);
  if (report.violations.empty()) return 0;
  for (const std::string& violation : report.violations) {
    std::printf("VIOLATION: %s\n", violation.c_str());
  }
  std::printf("trace: %s\n", EncodeTrace(report.trace).c_str());
  const ReplayReport replayed = Replay(options.model, report.trace);
  for (const std::string& line : replayed.lines) std::printf("  %s\n", line.c_str());
  return 1;
}

}  // namespace
}  // namespace lockerd::explorer

int main(int argc, char** argv) { return lockerd::explorer::Run(argc, argv); }
