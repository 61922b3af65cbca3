// The explorer's search (explorer.h): depth first over the cluster's
// events, a copy of the state kept per level of the path, states pruned by
// their digest and what was left to spend, and the replay of a trace.
// Single-threaded, and it never changes the broken rules.
#include "tests/explorer/explorer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "tests/explorer/visited_set.h"

namespace lockerd::explorer {
namespace {

using Clock = std::chrono::steady_clock;

// How often (in events applied) the time limit is looked at.
constexpr uint64_t kClockCheckEvery = 256;

bool SpendsBudget(const Event& event) {
  return event.kind != EventKind::kDeliver && event.kind != EventKind::kSubmit &&
         event.kind != EventKind::kSync;
}

class Search {
 public:
  Search(const ExploreOptions& options, ExploredCluster* cluster, ExploreReport* report)
      : options_(options), cluster_(cluster), report_(report), started_(Clock::now()) {}

  void Run() {
    visited_.Visit(cluster_->Digest(), Left(0));
    report_->states = 1;
    if (!cluster_->ok()) {
      report_->violations = cluster_->violations();
      return;
    }
    Visit(0);
    report_->complete = !report_->stopped && report_->violations.empty();
  }

 private:
  // Explores every event enabled in the cluster's state, which is `depth`
  // events from the start. Returns true to stop the whole search.
  bool Visit(uint32_t depth) {
    // The checker judges what clients are told: once they are done, no
    // later event can bring a violation.
    std::vector<Event> events =
        cluster_->clients_done() ? std::vector<Event>{} : cluster_->Enabled();
    if (options_.faults_first) std::stable_partition(events.begin(), events.end(), SpendsBudget);
    if (events.empty()) {
      ++report_->quiescent;
      return false;
    }
    if (options_.max_depth != 0 && depth >= options_.max_depth) {
      ++report_->depth_cuts;
      return false;
    }
    // The first event goes on from the state as it is; the others from a
    // copy of it (whose members are rebuilt from their call logs).
    std::optional<ExploredCluster::State> saved;
    if (events.size() > 1) saved = cluster_->state();
    for (size_t i = 0; i < events.size(); ++i) {
      if (i > 0) cluster_->Restore(*saved);
      if (Step(events[i], depth)) return true;
    }
    return false;
  }

  bool Step(const Event& event, uint32_t depth) {
    cluster_->Apply(event);
    ++report_->transitions;
    if (TimeIsUp()) {
      report_->stopped = true;
      return true;
    }
    if (!cluster_->ok()) {
      report_->violations = cluster_->violations();
      report_->trace = path_;
      report_->trace.push_back(event);
      report_->max_depth = std::max(report_->max_depth, depth + 1);
      return true;
    }
    if (!visited_.Visit(cluster_->Digest(), Left(depth + 1))) {
      ++report_->revisits;
      return false;
    }
    report_->states = visited_.size();
    report_->max_depth = std::max(report_->max_depth, depth + 1);
    if (visited_.size() >= options_.max_states) {
      report_->stopped = true;
      return true;
    }
    path_.push_back(event);
    const bool stop = Visit(depth + 1);
    path_.pop_back();
    return stop;
  }

  // What a state `depth` events from the start may still spend: a state
  // seen before with at least as much of everything left is pruned.
  uint64_t Left(uint32_t depth) const {
    const Budgets& left = cluster_->left();
    const int depth_left = options_.max_depth == 0 ? VisitedSet::kLeftMax
                                                   : static_cast<int>(options_.max_depth - depth);
    return VisitedSet::Pack({depth_left, left.splits, left.drops, left.crashes, left.disk_losses,
                             left.restarts, left.wall_steps, left.timers, left.partitions});
  }

  bool TimeIsUp() const {
    if (options_.max_seconds <= 0 || report_->transitions % kClockCheckEvery != 0) return false;
    return std::chrono::duration<double>(Clock::now() - started_).count() > options_.max_seconds;
  }

  const ExploreOptions& options_;
  ExploredCluster* cluster_;
  ExploreReport* report_;
  Clock::time_point started_;
  VisitedSet visited_;
  std::vector<Event> path_;
};

// Members are rebuilt all the time, and a member's lease table takes about
// a megabyte at its first key: glibc would hand such blocks back to the
// system and fault them in again at every rebuild.
void KeepFreedMemory() {
#ifdef __GLIBC__
  static const bool once = [] {
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    return true;
  }();
  (void)once;
#endif
}

// Members are counted in bit masks, and what is left in 7-bit fields.
constexpr size_t kMembersMax = 7;

std::string CheckModel(const ModelOptions& model) {
  if (model.members < 1 || model.members > kMembersMax) {
    return "members must be 1.." + std::to_string(kMembersMax);
  }
  if (model.members + model.spares > kMembersMax) {
    return "members and spares must be " + std::to_string(kMembersMax) + " processes at most";
  }
  if (model.keys < 1) return "keys must be at least 1";
  const Budgets& b = model.budgets;
  for (const int budget : {b.splits, b.drops, b.crashes, b.disk_losses, b.restarts, b.wall_steps,
                           b.timers, b.partitions}) {
    if (budget < 0 || budget > VisitedSet::kLeftMax) {
      return "budgets must be 0.." + std::to_string(VisitedSet::kLeftMax);
    }
  }
  return {};
}

std::shared_ptr<const std::vector<ClientScript>> Scripts(const ModelOptions& model,
                                                         std::string* problem) {
  *problem = CheckModel(model);
  if (!problem->empty()) return nullptr;
  std::optional<std::vector<ClientScript>> scripts =
      ParseScripts(model.script, model.keys, model.members + model.spares, problem);
  if (!scripts) return nullptr;
  return std::make_shared<const std::vector<ClientScript>>(std::move(*scripts));
}

}  // namespace

ExploreReport Explore(const ExploreOptions& options) {
  KeepFreedMemory();
  ExploreReport report;
  const auto started = Clock::now();
  const auto scripts = Scripts(options.model, &report.problem);
  if (!scripts) return report;
  if (options.max_depth > static_cast<uint32_t>(VisitedSet::kLeftMax)) {
    report.problem = "max depth must be 0.." + std::to_string(VisitedSet::kLeftMax);
    return report;
  }
  ExploredCluster cluster(options.model, scripts);
  Search(options, &cluster, &report).Run();
  report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  report.node_calls = cluster.calls();
  report.node_rebuilds = cluster.rebuilds();
  report.calls_replayed = cluster.calls_replayed();
  report.replay_mismatches = cluster.replay_mismatches();
  report.change_answers = cluster.change_answers();
  report.max_epoch = cluster.max_epoch();
  return report;
}

ReplayReport Replay(const ModelOptions& model, const std::vector<Event>& trace) {
  ReplayReport report;
  const auto scripts = Scripts(model, &report.problem);
  if (!scripts) return report;
  ExploredCluster cluster(model, scripts);
  cluster.set_log(&report.lines);
  for (size_t step = 0; step < trace.size() && cluster.ok(); ++step) {
    const Event& event = trace[step];
    const std::vector<Event> enabled = cluster.Enabled();
    if (std::find(enabled.begin(), enabled.end(), event) == enabled.end()) {
      report.problem =
          "event " + std::to_string(step + 1) + " (" + EncodeEvent(event) + ") cannot happen there";
      return report;
    }
    report.lines.push_back(std::to_string(step + 1) + ". [" + EncodeEvent(event) + "] at " +
                           std::to_string(cluster.state().now_ms) +
                           " ms: " + cluster.Describe(event));
    cluster.Apply(event);
  }
  report.violations = cluster.violations();
  return report;
}

std::string Summary(const ExploreReport& report) {
  char text[256];
  std::snprintf(text, sizeof text, "%llu states, %llu events applied, depth %u, %.2f s: %s",
                static_cast<unsigned long long>(report.states),
                static_cast<unsigned long long>(report.transitions), report.max_depth,
                report.seconds,
                !report.violations.empty() ? "VIOLATION"
                : report.complete          ? "complete, no violation"
                                           : "stopped early, no violation");
  std::string summary = text;
  const auto& answers = report.change_answers;
  if (answers[0] + answers[1] + answers[2] + answers[3] > 0) {
    const auto n = [](uint64_t count) { return static_cast<unsigned long long>(count); };
    std::snprintf(text, sizeof text,
                  " (membership changes answered: %llu done, %llu refused, %llu no quorum, %llu "
                  "try again; epochs up to %llu)",
                  n(answers[0]), n(answers[1]), n(answers[2]), n(answers[3]), n(report.max_epoch));
    summary += text;
  }
  return summary;
}

}  // namespace lockerd::explorer
