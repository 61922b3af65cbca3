#include "tests/faults/checker.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/faults/test_network.h"

namespace lockerd::faults {
namespace {

constexpr size_t kExamplesMax = 8;

std::string Ms(int64_t us, int64_t start_us) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", static_cast<double>(us - start_us) / 1000.0);
  return text;
}

void Note(Report& report, const std::string& example) {
  if (report.examples.size() < kExamplesMax) report.examples.push_back(example);
}

Availability Measure(const std::vector<Attempt>& attempts, int64_t from_us, int64_t to_us) {
  Availability availability;
  int64_t last_acquire = from_us;
  for (const Attempt& attempt : attempts) {
    if (attempt.sent_us < from_us || attempt.sent_us >= to_us) continue;
    ++availability.attempts;
    availability.answered += attempt.answered;
    if (attempt.acquired) {
      ++availability.acquired;
      availability.longest_gap_ms = std::max(availability.longest_gap_ms, (attempt.sent_us - last_acquire) / 1000);
      last_acquire = attempt.sent_us;
    }
  }
  availability.longest_gap_ms = std::max(availability.longest_gap_ms, (to_us - last_acquire) / 1000);
  return availability;
}

}  // namespace

Report Check(const Workload& workload, const std::vector<FaultWindow>& windows, int64_t start_us,
             int64_t end_us, size_t members) {
  Report report;
  std::vector<Hold> holds = workload.holds();
  std::erase_if(holds, [](const Hold& h) { return h.end_us <= h.start_us; });  // Came too late.
  report.holds = holds.size();
  std::sort(holds.begin(), holds.end(), [](const Hold& a, const Hold& b) { return a.start_us < b.start_us; });
  std::map<std::string, std::vector<const Hold*>> by_key;
  for (const Hold& hold : holds) by_key[hold.key].push_back(&hold);
  for (const auto& [key, list] : by_key) {
    uint64_t max_token = 0;
    int max_client = -1;
    for (size_t i = 0; i < list.size(); ++i) {
      const Hold& h = *list[i];
      // Overlap with any earlier hold of another lease still running.
      for (size_t j = 0; j < i; ++j) {
        const Hold& earlier = *list[j];
        if (earlier.end_us <= h.start_us || (earlier.client == h.client && earlier.token == h.token)) continue;
        ++report.overlaps;
        Note(report, "overlap on " + key + ": client " + std::to_string(earlier.client) + " token " +
                         std::to_string(earlier.token) + " [" + Ms(earlier.start_us, start_us) + ", " +
                         Ms(earlier.end_us, start_us) + ") ms and client " + std::to_string(h.client) +
                         " token " + std::to_string(h.token) + " [" + Ms(h.start_us, start_us) + ", " +
                         Ms(h.end_us, start_us) + ") ms");
      }
      if (h.token < max_token || (h.token == max_token && h.client != max_client)) {
        ++report.token_regressions;
        Note(report, "token did not grow on " + key + ": client " + std::to_string(h.client) +
                         " got " + std::to_string(h.token) + " at " + Ms(h.start_us, start_us) +
                         " ms after token " + std::to_string(max_token));
      }
      if (h.token >= max_token) {
        max_token = h.token;
        max_client = h.client;
      }
    }
  }
  report.store_writes = workload.store().writes();
  for (const auto& rejection : workload.store().rejections()) {
    ++report.store_rejections;
    Note(report, "guarded resource refused client " + std::to_string(rejection.client) + "'s write on " +
                     rejection.key + " with token " + std::to_string(rejection.token) + " at " +
                     Ms(rejection.at_us, start_us) + " ms (it had seen " + std::to_string(rejection.newest) + ")");
  }
  for (const ReleaseCheck& check : workload.release_checks()) {
    ++report.releases_checked;
    if (check.still_held_on >= members / 2 + 1) {
      ++report.releases_still_held;
      Note(report, "RELEASE of " + check.key + " token " + std::to_string(check.token) + " acknowledged at " +
                       Ms(check.acked_us, start_us) + " ms, still held on " +
                       std::to_string(check.still_held_on) + " members 300 ms later");
    }
  }
  const std::vector<Attempt> attempts = [&] {
    auto list = workload.attempts();
    std::sort(list.begin(), list.end(), [](const Attempt& a, const Attempt& b) { return a.sent_us < b.sent_us; });
    return list;
  }();
  report.overall = Measure(attempts, start_us, end_us);
  for (const FaultWindow& window : windows) {
    const std::string name = FaultName(window.kind);
    ++report.faults[name];
    const Availability during = Measure(attempts, window.start_us, window.end_us);
    Availability& total = report.by_fault[name];
    total.attempts += during.attempts;
    total.answered += during.answered;
    total.acquired += during.acquired;
    total.longest_gap_ms = std::max(total.longest_gap_ms, during.longest_gap_ms);
  }
  return report;
}

std::string Format(const Report& report) {
  std::ostringstream out;
  const auto line = [&out](const std::string& name, const Availability& a) {
    char text[200];
    std::snprintf(text, sizeof text, "  %-26s %6zu LOCKs, %5.1f%% answered, %6zu acquired, longest gap %lld ms\n",
                  name.c_str(), a.attempts, a.attempts ? 100.0 * static_cast<double>(a.answered) / a.attempts : 0.0,
                  a.acquired, static_cast<long long>(a.longest_gap_ms));
    out << text;
  };
  out << "holds: " << report.holds << ", guarded writes: " << report.store_writes
      << ", releases checked: " << report.releases_checked << "\n";
  out << "faults:";
  for (const auto& [kind, count] : report.faults) out << " " << kind << "=" << count;
  out << "\nviolations: " << report.violations() << " (overlapping holds " << report.overlaps
      << ", tokens not growing " << report.token_regressions << ", guarded writes refused "
      << report.store_rejections << ", releases still held " << report.releases_still_held << ")\n";
  for (const std::string& example : report.examples) out << "  ! " << example << "\n";
  out << "availability:\n";
  line("overall", report.overall);
  for (const auto& [kind, availability] : report.by_fault) line("during " + kind, availability);
  return out.str();
}

std::string WriteTimeline(const std::string& dir, const Workload& workload,
                          const std::vector<FaultWindow>& windows, int64_t start_us) {
  std::string gnuplot;
  if (Run({"sh", "-c", "command -v gnuplot"}, &gnuplot) != 0) return {};
  {
    std::ofstream holds(dir + "/holds.dat");
    for (const Hold& h : workload.holds()) {
      if (h.end_us <= h.start_us) continue;
      const int key = std::atoi(h.key.c_str() + 4);  // "lockN"
      holds << (h.start_us - start_us) / 1e6 << " " << h.client + 0.25 * key << " "
            << (h.end_us - h.start_us) / 1e6 << " 0 " << key << "\n";
    }
    std::ofstream faults(dir + "/faults.dat");
    for (const FaultWindow& w : windows) {
      faults << (w.start_us - start_us) / 1e6 << " " << (w.end_us - start_us) / 1e6 << " \""
             << w.description << "\"\n";
    }
  }
  std::ofstream script(dir + "/timeline.gp");
  script << "set terminal png size 1600,700\nset output '" << dir << "/timeline.png'\n"
         << "set title 'lockerd fault run: holds per client (colour = key) and faults (shaded)'\n"
         << "set xlabel 'seconds'\nset ylabel 'client'\nset key off\nset grid xtics\n"
         << "set style fill transparent solid 0.15 noborder\n"
         << "plot '" << dir << "/faults.dat' using (($1+$2)/2):(4):(($2-$1)/2):(4.5) with boxxyerror lc rgb 'red', "
         << "'' using (($1+$2)/2):(-0.6):3 with labels font ',8', "
         << "'" << dir << "/holds.dat' using 1:2:3:4:5 with vectors nohead lw 3 lc variable\n";
  script.close();
  if (Run({"gnuplot", dir + "/timeline.gp"}) != 0) return {};
  return dir + "/timeline.png";
}

}  // namespace lockerd::faults
