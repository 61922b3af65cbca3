// appendonly yes: the append-only log (server/append_log.h) kept in step
// with the member. Every loop turn's changes are one record, synced before
// any reply or peer message of that turn leaves (group commit); the log is
// rewritten as one full record when it has grown (compaction). When it
// cannot be written (a full disk), the member refuses writes and stands
// apart from rounds until it can (LogFailed, RetryLog).
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
  bool can_go_on = true;
  if (error = log_->Rewrite(BatchOf(node.Save(now), /*full=*/true, now), &can_go_on); !error.empty()) {
    Log(LogLevel::kWarning, "Cannot start: %s", error.c_str());
    return false;
  }
  log_size_after_rewrite_ = log_->size_bytes();
  node.NoteDurable();
  ProcessInfo::AppendOnly& stats = engine_.process().append_only;
  stats.enabled = true;
  stats.size_bytes = log_->size_bytes();
  stats.last_rewrite_us = MicrosSince(start_ns);
  stats.last_rewrite_wall_ms = now.wall_ms;
  stats.loaded_from_log = previous.from_log;
  return true;
}

void Server::QueueChanges(Time now) {
  std::optional<cluster::NodeState> changes = engine_.node().TakeChanges(now);
  if (!changes) return;
  if (log_failing_) {
    for (const cluster::SavedRegister& reg : changes->registers) engine_.NoteNotDurable(reg.key);
  }
  log_->Add(BatchOf(std::move(*changes), /*full=*/false, now));
}

void Server::CommitChanges(bool all) {
  if (!log_) return;
  const Time now = Now();
  QueueChanges(now);
  // While the log is failing, RetryLog syncs (each second); what changes
  // meanwhile (a round already under way trying again) produces nothing
  // that leaves: its messages are dropped and no round can finish.
  if (log_failing_) return;
  cluster::Node& node = engine_.node();
  if (log_->has_pending()) {
    // Promises within the synced reserve wait for the next sync that is
    // needed, or for the cron's each second (cluster::Node::ChangesNeedSync).
    if (!all && !node.ChangesNeedSync()) return;
    const uint64_t start_ns = uv_hrtime();
    if (const std::string error = log_->Sync(); !error.empty()) return LogFailed(error);
    NoteSynced(now, start_ns);
    MaybeCompactLog(now);
  }
  node.NoteDurable();
}

void Server::SendBeforeSync() {
  if (!log_ || log_failing_ || !peers_) return;
  early_outbox_.clear();
  engine_.node().TakeSendableBeforeSync(&peer_outbox_, &early_outbox_);
  if (early_outbox_.empty()) return;
  for (const cluster::Message& message : early_outbox_) peers_->Send(message);
  peers_->FlushAll();
}

void Server::NoteSynced(Time now, uint64_t start_ns) {
  ProcessInfo::AppendOnly& stats = engine_.process().append_only;
  stats.last_sync_us = MicrosSince(start_ns);
  stats.longest_sync_us = std::max(stats.longest_sync_us, stats.last_sync_us);
  stats.last_sync_wall_ms = now.wall_ms;
  ++stats.syncs;
  stats.size_bytes = log_->size_bytes();
}

void Server::LogFailed(const std::string& error) {
  if (log_->must_stop()) {
    // Nothing unsynced was answered; the next start replays whichever file
    // the directory holds, each complete as of the last sync.
    Log(LogLevel::kWarning, "Could not make the rewrite of %s durable (%s): stopping at once, as after a crash",
        log_->path().c_str(), error.c_str());
    std::_Exit(EXIT_FAILURE);
  }
  ProcessInfo::AppendOnly& stats = engine_.process().append_only;
  ++stats.write_failures;
  stats.write_error = log_->last_failure();
  engine_.SetCannotPersist(log_->last_failure());
  if (log_failing_) return;
  log_failing_ = true;
  log_failed_at_ms_ = Now().mono_ms;
  AbandonCompaction("the log cannot be written");
  // The registers the failed records hold: reads of them are refused until
  // they are durable (what a crash now would make the member forget).
  for (const LogBatch& batch : ReadLog(log_->pending()).batches) {
    for (const cluster::SavedRegister& reg : batch.registers) engine_.NoteNotDurable(reg.key);
  }
  // This turn's peer messages are not sent (OnPrepare drops them while the
  // log fails), and no reply written since the last sync may go: those
  // connections end as they would in a crash, their outcome unknown. That
  // is every reply not yet on its way, including those waiting in a
  // pipeline's order behind a write still in flight (a one-round-trip
  // EXTEND completed this turn behind a LOCK that has not).
  std::vector<Connection*> unsent;
  for (const auto& [id, connection] : connections_) {
    const Client& client = connection->client;
    if (client.peer.member < 0 && (!client.reply().empty() || client.replies().has_slots())) {
      unsent.push_back(connection);
    }
  }
  for (Connection* connection : unsent) {
    Close(*connection, "its reply waited on a change the append-only log could not make durable");
  }
  Log(LogLevel::kWarning,
      "Cannot make changes durable (%s): lock writes answer -MISCONF, this member takes no part "
      "in rounds and reads go on; %zu connections with replies not yet sent were closed; trying "
      "again every second",
      error.c_str(), unsent.size());
}

void Server::RetryLog() {
  if (!log_failing_) return;
  const Time now = Now();
  QueueChanges(now);
  const uint64_t start_ns = uv_hrtime();
  if (const std::string error = log_->Sync(); !error.empty()) {
    LogFailed(error);
    if (!RewriteToRecover(now)) return;
  } else {
    NoteSynced(now, start_ns);
  }
  log_failing_ = false;
  engine_.node().NoteDurable();
  engine_.SetCannotPersist({});
  engine_.process().append_only.write_error.clear();
  Log(LogLevel::kNotice,
      "The append-only log is written again after %lld ms: lock writes and rounds resume",
      static_cast<long long>(now.mono_ms - log_failed_at_ms_));
  MaybeCompactLog(now);
}

bool Server::RewriteToRecover(Time now) {
  // The log itself may be what filled the disk, and a compaction may need
  // less room than appending to it: every 30 s, try to rewrite it as the
  // whole state, which holds everything queued.
  if (log_rewrite_ || now.mono_ms - last_recovery_rewrite_ms_ < kLogRecoveryRewriteIntervalMs) {
    return false;
  }
  last_recovery_rewrite_ms_ = now.mono_ms;
  bool can_go_on = true;
  const std::string error = log_->Rewrite(BatchOf(engine_.node().Save(now), /*full=*/true, now),
                                          &can_go_on, /*replaces_queue=*/true);
  if (!can_go_on) {
    Log(LogLevel::kWarning, "Could not rewrite %s (%s): stopping at once, as after a crash",
        log_->path().c_str(), error.c_str());
    std::_Exit(EXIT_FAILURE);
  }
  if (!error.empty()) return false;
  log_size_after_rewrite_ = log_->size_bytes();
  engine_.process().append_only.size_bytes = log_->size_bytes();
  Log(LogLevel::kNotice, "Rewrote %s as the whole state (%llu bytes) to get out of the failure",
      log_->path().c_str(), static_cast<unsigned long long>(log_->size_bytes()));
  return true;
}

void Server::MaybeCompactLog(Time now) {
  if (config_.aof_rewrite_percentage == 0 || log_rewrite_ || log_failing_ || shutting_down_) return;
  const uint64_t base = log_size_after_rewrite_;
  const uint64_t due = std::max<uint64_t>(
      config_.aof_rewrite_min_bytes,
      base + base / 100 * static_cast<uint64_t>(config_.aof_rewrite_percentage));
  if (log_->size_bytes() < due || !log_->BeginRewrite()) return;
  // From here the log keeps aside what it syncs (the tail, newer than any
  // part of the snapshot); the loop takes the snapshot a part per turn,
  // always right after a commit, and a worker writes and syncs it.
  auto rewrite = std::make_unique<LogRewrite>();
  rewrite->server = this;
  rewrite->path = log_->rewrite_path();
  rewrite->started_ns = uv_hrtime();
  rewrite->size_before = log_->size_bytes();
  rewrite->work.data = rewrite.get();
  log_rewrite_ = std::move(rewrite);
  engine_.process().append_only.rewrite_in_progress = true;
  ContinueSnapshot(now);
}

void Server::ContinueSnapshot(Time now) {
  if (!log_rewrite_ || log_rewrite_->snapshot_taken) return;
  LogRewrite& rewrite = *log_rewrite_;
  const uint64_t start_ns = uv_hrtime();
  const cluster::Node& node = engine_.node();
  const size_t end = rewrite.next_slot + kLogSnapshotSlotsPerTurn;
  rewrite.parts.push_back(BatchOf(node.SaveSlots(rewrite.next_slot, end, now),
                                  /*full=*/rewrite.parts.empty(), now));
  rewrite.next_slot = end;
  const int64_t part_us = MicrosSince(start_ns);
  rewrite.snapshot_us += part_us;
  rewrite.longest_part_us = std::max(rewrite.longest_part_us, part_us);
  // Slots past the limit now hold only registers made since the first
  // part: the tail has them.
  if (rewrite.next_slot < node.slot_limit()) return;
  rewrite.snapshot_taken = true;
  QueueCompactionWork();
}

void Server::QueueCompactionWork() {
  // The worker writes and syncs the snapshot, and then, once, the tail
  // that came meanwhile; it touches nothing but the job.
  const int status = uv_queue_work(
      &loop_, &log_rewrite_->work,
      [](uv_work_t* work) {
        auto& job = *static_cast<LogRewrite*>(work->data);
        job.error = job.tail_taken ? AppendLog::AppendSynced(job.path, job.tail)
                                   : AppendLog::WriteSnapshot(job.path, job.parts);
      },
      [](uv_work_t* work, int work_status) {
        auto& job = *static_cast<LogRewrite*>(work->data);
        if (work_status != 0) job.error = uv_strerror(work_status);
        job.server->CompactionWorkDone();
      });
  if (status != 0) {
    log_rewrite_->error = uv_strerror(status);
    FinishCompaction();
  }
}

void Server::CompactionWorkDone() {
  LogRewrite& rewrite = *log_rewrite_;
  if (rewrite.error.empty() && !shutting_down_ && !rewrite.tail_taken) {
    // What was synced while the snapshot was written goes after it, off
    // the loop too; the loop then appends only what comes meanwhile.
    rewrite.tail_taken = true;
    rewrite.tail = log_->TakeTail();
    if (!rewrite.tail.empty()) return QueueCompactionWork();
  }
  FinishCompaction();
}

void Server::AbandonCompaction(const char* why) {
  if (!log_rewrite_ || log_rewrite_->snapshot_taken) return;  // The worker's callback ends it.
  log_rewrite_.reset();
  log_->AbandonRewrite(why);
  engine_.process().append_only.rewrite_in_progress = false;
}

void Server::CloseOffTheLoop(int fd) {
  struct Closing {
    uv_work_t work{};
    int fd = -1;
    std::string dir;
  };
  auto* closing = new Closing;
  closing->fd = fd;
  closing->dir = state_store_.dir();
  closing->work.data = closing;
  const int status = uv_queue_work(
      &loop_, &closing->work,
      [](uv_work_t* work) {
        const auto& job = *static_cast<Closing*>(work->data);
        AppendLog::ReleaseReplaced(job.fd, job.dir);
      },
      [](uv_work_t* work, int) { delete static_cast<Closing*>(work->data); });
  if (status != 0) {
    ::close(fd);
    delete closing;
  }
}

void Server::FinishCompaction() {
  const std::unique_ptr<LogRewrite> rewrite = std::move(log_rewrite_);
  ProcessInfo::AppendOnly& stats = engine_.process().append_only;
  stats.rewrite_in_progress = false;
  if (shutting_down_) {
    log_->AbandonRewrite("shutting down");
    return;
  }
  std::string error = rewrite->error;
  const uint64_t finish_ns = uv_hrtime();
  if (error.empty()) {
    int replaced_fd = -1;
    error = log_->FinishRewrite(&replaced_fd);
    stats.last_rewrite_finish_us = MicrosSince(finish_ns);
    if (replaced_fd >= 0) CloseOffTheLoop(replaced_fd);
  } else {
    log_->AbandonRewrite(error);
  }
  if (!error.empty()) {
    // The log is as it was: it keeps growing, and the next try comes when
    // it has grown as much again.
    stats.last_rewrite_failed = true;
    ++stats.rewrites_consecutive_failures;
    log_size_after_rewrite_ = log_->size_bytes();
    Log(LogLevel::kWarning, "Could not rewrite %s (%s): it stays as it was, %llu bytes",
        log_->path().c_str(), error.c_str(), static_cast<unsigned long long>(log_->size_bytes()));
    return;
  }
  log_size_after_rewrite_ = log_->size_bytes();
  ++stats.rewrites;
  stats.last_rewrite_failed = false;
  stats.rewrites_consecutive_failures = 0;
  stats.last_rewrite_us = MicrosSince(rewrite->started_ns);
  stats.last_rewrite_snapshot_us = rewrite->snapshot_us;
  stats.last_rewrite_longest_part_us = rewrite->longest_part_us;
  stats.last_rewrite_wall_ms = Now().wall_ms;
  stats.size_bytes = log_->size_bytes();
  Log(LogLevel::kNotice,
      "Rewrote %s: %llu bytes down to %llu in %lld us (the loop took the snapshot in %zu parts, "
      "%lld us in all, the longest %lld us, and %lld us to append what came meanwhile and "
      "put the file in place)",
      log_->path().c_str(), static_cast<unsigned long long>(rewrite->size_before),
      static_cast<unsigned long long>(log_->size_bytes()),
      static_cast<long long>(stats.last_rewrite_us), rewrite->parts.size(),
      static_cast<long long>(rewrite->snapshot_us), static_cast<long long>(rewrite->longest_part_us),
      static_cast<long long>(stats.last_rewrite_finish_us));
}

}  // namespace lockerd::server
