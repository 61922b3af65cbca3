// The append-only log (`appendonly yes`): what a member promised, accepted
// and counted, made durable before anything that depends on it leaves the
// member (CLUSTER-SAFETY.md, "The append-only log").
//
// The file, `lockerd.aof` in `dir`, is a series of records, one per group
// commit (one loop turn's changes):
//   u32 length, u32 CRC-32C of those 4 bytes   (little-endian)
//   payload (length bytes)                     (RESP, below)
//   u32 CRC-32C of the payload
// The payload is an array header ("batch", full or delta, the stamp, the
// token counter, the ballot floor, the register count) followed by one
// array per register, each the register's whole state after the turn, in
// the state file's form (state_file.h): replaying keeps the last of each.
// A full batch holds every register: compaction rewrites the file as one.
//
// Reading: a record cut short at the end of the file, or the last record
// failing its checksum, is a torn tail (the crash came mid-write: it was
// never synced, so nothing it held was acknowledged): it is cut off and
// said. Damage anywhere before the last record refuses the file: what
// comes after it was synced and cannot be recovered.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/restart.h"
#include "server/state_file.h"

namespace lockerd::server {

struct LogBatch {
  bool full = false;  // Holds every register (a compaction, or a start).
  SaveStamp stamp;    // When it was written (remaining times count from it).
  uint64_t token_counter = 0;
  cluster::Ballot ballot_floor;
  // As NodeState's: a member still in quarantine, or still owing its
  // recovery, when it wrote the batch has not recovered by crashing.
  int64_t quarantine_left_ms = 0;
  bool needs_sync = false;
  uint64_t round_reserve = 0;  // As NodeState's.
  std::vector<cluster::SavedRegister> registers;
};

// A member's changes (cluster::Node::TakeChanges) or its whole state
// (Node::Save, `full`) as one record, stamped when it is written.
LogBatch LogBatchOf(cluster::NodeState state, bool full, SaveStamp stamp);
// A batch's bytes, framed: one record, or for a batch of more than
// `chunk_bytes` of registers, several (the first full if the batch is,
// the rest deltas), which replay the same.
inline constexpr size_t kLogChunkBytes = 64u << 20;
std::string EncodeLogRecord(const LogBatch& batch, size_t chunk_bytes = kLogChunkBytes);

struct LogContents {
  std::vector<LogBatch> batches;
  uint64_t good_bytes = 0;  // Where the records read end.
  std::string torn_tail;    // Non-empty: a torn tail was found at good_bytes (why).
  std::string problem;      // Non-empty: damage before the tail; the file is refused.
};
LogContents ReadLog(std::string_view bytes);

// What the batches add up to: the state a member restarts from, as of the
// last batch's stamp (`*stamp`). Remaining times of older batches are
// shortened by the boot clock's time between them, or kept whole across a
// reboot. Nothing when there are no batches.
std::optional<cluster::NodeState> ReplayLog(const std::vector<LogBatch>& batches, SaveStamp* stamp);

// The open file: batches queue in memory and reach the disk together on
// Sync (group commit).
class AppendLog {
 public:
  // Opens `path` to append after its first `keep_bytes` (a torn tail
  // beyond them is cut off), creating it if needed.
  static std::unique_ptr<AppendLog> Open(const std::string& path, uint64_t keep_bytes,
                                         std::string* error);
  ~AppendLog();
  AppendLog(const AppendLog&) = delete;
  AppendLog& operator=(const AppendLog&) = delete;

  void Add(const LogBatch& batch) { pending_ += EncodeLogRecord(batch); }
  bool has_pending() const { return !pending_.empty(); }
  const std::string& pending() const { return pending_; }  // Records queued, not yet synced.
  // Writes what is queued and waits until it is on disk (fdatasync). An
  // error message, or empty. After an error the queued bytes stay queued
  // and the file is cut back to its last synced size (before the next
  // write, if the cut itself failed): a later Sync writes them again, so
  // pages the kernel failed to write are never counted on.
  std::string Sync();
  // Replaces the whole file with one full batch (compaction), at once:
  // BeginRewrite, WriteSnapshot, FinishRewrite, then the directory synced.
  // An error message, or empty. After an error, `*can_go_on` says whether
  // the log is as it was or at least durable; if not (the directory sync
  // failed after the rename), the member must stop. With `replaces_queue`,
  // `full` is the state as of now, newer than the records queued (a sync
  // of them failed): on success they are dropped, since it holds them.
  std::string Rewrite(const LogBatch& full, bool* can_go_on, bool replaces_queue = false);

  // Compaction with the writing and syncing off the loop:
  // - BeginRewrite, when nothing is queued, as the snapshot (the whole
  //   state) starts being taken: from now on what Sync writes is also kept
  //   aside (the tail), being newer than any part of the snapshot;
  // - WriteSnapshot writes the snapshot beside the log (rewrite_path())
  //   and syncs it; then, as many times as wanted, AppendSynced of the
  //   tail taken so far (TakeTail). Both touch only their arguments, so a
  //   worker thread runs them while the loop goes on logging;
  // - FinishRewrite (on the loop) appends the rest of the tail, syncs it
  //   and renames the file over the log; the next Sync makes the rename
  //   durable before it writes. An error (always before the rename: the
  //   log is as it was) abandons the rewrite; AbandonRewrite drops it.
  bool BeginRewrite();  // False when records are queued (not synced) or a rewrite runs.
  // `parts`: the snapshot, the first part full, each with its own stamp
  // (a snapshot taken a part per loop turn: Node::SaveSlots).
  static std::string WriteSnapshot(const std::string& rewrite_path, const std::vector<LogBatch>& parts);
  static std::string AppendSynced(const std::string& rewrite_path, std::string_view records);
  std::string TakeTail();
  // `*replaced_fd`: the old log's descriptor, for the caller to hand to
  // ReleaseReplaced on a worker thread.
  std::string FinishRewrite(int* replaced_fd);
  // On a worker: gives back the blocks of the log a rewrite replaced
  // (`fd`, renamed over in `dir`), and closes it. Freeing a file's blocks
  // holds the file system's journal, and every sync on it waits (8-11 ms
  // for 27 MB at once here, 1 ms a megabyte at a time), so once the
  // directory is synced (the rename durable: the old file is no longer
  // what a crash would leave) it is cut a megabyte at a time, with a pause
  // between cuts, before the last close.
  static void ReleaseReplaced(int fd, const std::string& dir);
  void AbandonRewrite(const std::string& why);
  bool rewriting() const { return rewriting_; }
  std::string rewrite_path() const { return path_ + ".tmp"; }

  // A Sync failed to make a rewrite's rename durable: the log cannot be
  // trusted to hold what is appended next, whatever a retry says.
  bool must_stop() const { return must_stop_; }
  // The system's message for the last failed Sync or Rewrite (strerror).
  const std::string& last_failure() const { return last_failure_; }
  uint64_t size_bytes() const { return synced_bytes_; }
  const std::string& path() const { return path_; }

 private:
  AppendLog(std::string path, int fd, uint64_t size) : path_(std::move(path)), fd_(fd), synced_bytes_(size) {}

  std::string path_;
  int fd_;
  uint64_t synced_bytes_;
  std::string pending_;
  bool cut_needed_ = false;  // A failed Sync could not cut the file back.
  std::string last_failure_;
  bool rewriting_ = false;
  std::string tail_;  // Synced since BeginRewrite (or the last TakeTail).
  bool dir_sync_needed_ = false;
  bool must_stop_ = false;  // FinishRewrite renamed; the next Sync syncs the directory.
};

}  // namespace lockerd::server
