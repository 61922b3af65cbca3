// appendonly yes: the append-only log (server/append_log.h) kept in step
// with the member. Every loop turn's changes are one record, synced before
// any reply or peer message of that turn leaves (group commit); the log is
// rewritten as one full record when it has grown (compaction).
#include <unistd.h>

#include <cstdlib>

#include "base/log.h"
#include "server/net/server.h"
#include "server/net/server_internal.h"

namespace lockerd::server {
namespace {

// Stamped now, on the wall clock and the boot clock.
LogBatch BatchOf(cluster::NodeState state, bool full, Time now) {
  return LogBatchOf(std::move(state), full, {now.wall_ms, ReadBootStamp()});
}

int64_t MicrosSince(uint64_t start_ns) {
  return static_cast<int64_t>((uv_hrtime() - start_ns) / 1000);
}

}  // namespace

bool Server::OpenLog(const PreviousRun& previous, Time now) {
  std::string error;
  log_ = AppendLog::Open(state_store_.log_path(), previous.from_log ? previous.log_bytes : 0, &error);
  if (!log_) {
    Log(LogLevel::kWarning, "Cannot start: %s (check the dir setting)", error.c_str());
    return false;
  }
  // The first record is the whole state this run starts from; from here
  // on, each turn's changes follow it.
  cluster::Node& node = engine_.node();
  node.TrackChanges();
  (void)node.TakeChanges(now);
  const uint64_t start_ns = uv_hrtime();
  if (error = log_->Rewrite(BatchOf(node.Save(now), /*full=*/true, now)); !error.empty()) {
    Log(LogLevel::kWarning, "Cannot start: %s", error.c_str());
    return false;
  }
  log_size_after_rewrite_ = log_->size_bytes();
  ProcessInfo::AppendOnly& stats = engine_.process().append_only;
  stats.enabled = true;
  stats.size_bytes = log_->size_bytes();
  stats.last_rewrite_us = MicrosSince(start_ns);
  stats.loaded_from_log = previous.from_log;
  return true;
}

void Server::CommitChanges() {
  if (!log_) return;
  const Time now = Now();
  if (std::optional<cluster::NodeState> changes = engine_.node().TakeChanges(now)) {
    log_->Add(BatchOf(std::move(*changes), /*full=*/false, now));
  }
  if (!log_->has_pending()) return;
  const uint64_t start_ns = uv_hrtime();
  if (const std::string error = log_->Sync(); !error.empty()) {
    // Nothing of this turn has left the member: ending here is a crash at
    // the last sync, which the log restarts from without a quarantine.
    Log(LogLevel::kWarning,
        "Cannot make this turn's changes durable (%s): stopping at once, as after a crash; "
        "nothing unsynced was answered, and the next start replays %s",
        error.c_str(), log_->path().c_str());
    std::_Exit(EXIT_FAILURE);
  }
  ProcessInfo::AppendOnly& stats = engine_.process().append_only;
  stats.last_sync_us = MicrosSince(start_ns);
  stats.longest_sync_us = std::max(stats.longest_sync_us, stats.last_sync_us);
  ++stats.syncs;
  stats.size_bytes = log_->size_bytes();
  MaybeCompactLog(now);
}

void Server::MaybeCompactLog(Time now) {
  if (log_->size_bytes() < std::max(kAofRewriteMinBytes, 2 * log_size_after_rewrite_)) return;
  const uint64_t before = log_->size_bytes();
  const uint64_t start_ns = uv_hrtime();
  if (const std::string error = log_->Rewrite(BatchOf(engine_.node().Save(now), true, now));
      !error.empty()) {
    // Which file the next start finds is not known: stop as a crash at the
    // last sync (either file holds everything synced so far).
    Log(LogLevel::kWarning, "Could not rewrite %s (%s): stopping at once, as after a crash",
        log_->path().c_str(), error.c_str());
    std::_Exit(EXIT_FAILURE);
  }
  log_size_after_rewrite_ = log_->size_bytes();
  ProcessInfo::AppendOnly& stats = engine_.process().append_only;
  ++stats.rewrites;
  stats.last_rewrite_us = MicrosSince(start_ns);
  stats.size_bytes = log_->size_bytes();
  Log(LogLevel::kNotice, "Rewrote %s: %llu bytes down to %llu in %lld us", log_->path().c_str(),
      static_cast<unsigned long long>(before), static_cast<unsigned long long>(log_->size_bytes()),
      static_cast<long long>(stats.last_rewrite_us));
}

}  // namespace lockerd::server
