// What survives a restart, in the `dir` setting's folder (server/data_dir.h
// holds the folder's lock and its member list):
//   lockerd.running  exists while the server runs; found at startup, it means
//                    the last run did not shut down cleanly (crash, kill -9,
//                    SHUTDOWN NOSAVE).
//   lockerd.state    written by a clean shutdown: every register (held
//                    leases with their time left, free ones with their
//                    ballots and their tombstone's time left), the token
//                    counter, the ballot floor, and when it was written on
//                    the boot clock (server/boot_clock.h).
// The state file is a series of RESP arrays of bulk strings (the format the
// server already parses), written to a temporary file, synced and renamed,
// so a crash mid-save leaves the previous file whole.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "cluster/restart.h"
#include "protocol/resp_writer.h"
#include "server/boot_clock.h"

namespace lockerd::server {

// When a state file was written.
struct SaveStamp {
  int64_t wall_ms = 0;  // For the log and the broken variant only.
  BootStamp boot;
};

struct PreviousRun {
  bool unclean = false;                  // The running marker was found.
  std::optional<cluster::NodeState> saved;  // A readable state file (or log).
  SaveStamp saved_at;
  std::string problem;                   // A state file that could not be read.
  // The last run logged every change (appendonly yes) and did not stop
  // cleanly: `saved` is what its log adds up to, and the stop counts as
  // clean. log_bytes: where the log's good records end.
  bool from_log = false;
  uint64_t log_bytes = 0;
  std::string log_torn_tail;  // A torn tail cut off the log (why).
  // The log is damaged before its tail: the member must not start.
  std::string log_problem;
};

class StateStore {
 public:
  explicit StateStore(std::string dir);

  PreviousRun Load() const;
  // Creates `dir` if needed and writes the running marker, which says
  // whether this run logs every change (`journaled`: appendonly yes).
  // Returns an error message, or an empty string.
  std::string MarkRunning(bool journaled) const;
  // Removes the append-only log (a run without it, or one that did not
  // load from it, must not leave an older log to be read after a crash).
  std::string RemoveLog() const;
  // Removes the running marker of a start that served nothing.
  void ClearRunning() const;
  // Saves the state and removes the running marker: a clean stop.
  std::string SaveClean(const cluster::NodeState& state, const SaveStamp& stamp) const;
  // Saves the state file alone (written beside it, synced, renamed over
  // it); the marker stays as it is.
  std::string SaveState(const cluster::NodeState& state, const SaveStamp& stamp) const;

  std::string state_path() const { return dir_ + "/lockerd.state"; }
  std::string marker_path() const { return dir_ + "/lockerd.running"; }
  std::string log_path() const { return dir_ + "/lockerd.aof"; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// One register as the state file and the append-only log (append_log.h)
// write it: an array of kSavedRegisterFields bulk strings.
inline constexpr size_t kSavedRegisterFields = 9;
void WriteSavedRegister(protocol::RespWriter& writer, const cluster::SavedRegister& reg);
std::optional<cluster::SavedRegister> ReadSavedRegister(std::span<const std::string> fields);

// Writes `bytes` to `path` (created or truncated) and syncs it to disk; an
// error message, or an empty string.
std::string WriteSynced(const std::string& path, std::string_view bytes);
// Writes all of `bytes` to `fd` (short writes and EINTR retried): empty, or
// an error naming `path` (errno is the failed write's).
std::string WriteAll(int fd, std::string_view bytes, const std::string& path);
// Syncs a directory, so that a file created, renamed or removed in it
// stays so; an error message, or an empty string.
std::string SyncDirectory(const std::string& dir);

// The state file's bytes, and back; exposed for tests.
std::string EncodeState(const cluster::NodeState& state, const SaveStamp& stamp);
std::optional<cluster::NodeState> DecodeState(std::string_view bytes, SaveStamp* stamp,
                                              std::string* problem);

}  // namespace lockerd::server
