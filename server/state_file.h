// What survives a restart, in the `dir` setting's folder:
//   lockerd.running  exists while the server runs; found at startup, it means
//                    the last run did not shut down cleanly (crash, kill -9).
//   lockerd.state    written by a clean shutdown: held leases with their time
//                    left, the token counter and the ballot floor.
// The state file is a series of RESP arrays of bulk strings (the format the
// server already parses), written to a temporary file, synced and renamed,
// so a crash mid-save leaves the previous file whole.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cluster/node.h"

namespace lockerd::server {

struct PreviousRun {
  bool unclean = false;                  // The running marker was found.
  std::optional<cluster::NodeState> saved;  // A readable state file.
  int64_t saved_wall_ms = 0;             // When it was written (wall clock).
  std::string problem;                   // A state file that could not be read.
};

class StateStore {
 public:
  explicit StateStore(std::string dir);

  PreviousRun Load() const;
  // Creates `dir` if needed and writes the running marker. Returns an error
  // message, or an empty string.
  std::string MarkRunning() const;
  // Saves the state and removes the running marker: a clean stop.
  std::string SaveClean(const cluster::NodeState& state, int64_t wall_ms) const;

  std::string state_path() const { return dir_ + "/lockerd.state"; }
  std::string marker_path() const { return dir_ + "/lockerd.running"; }

 private:
  std::string dir_;
};

// The state file's bytes, and back; exposed for tests.
std::string EncodeState(const cluster::NodeState& state, int64_t wall_ms);
std::optional<cluster::NodeState> DecodeState(std::string_view bytes, int64_t* wall_ms,
                                              std::string* problem);

}  // namespace lockerd::server
