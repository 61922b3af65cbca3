// lockerd.membership, in the `dir` setting's folder: the configuration
// this member adopted and its configuration register (cluster/restart.h,
// MembershipState). What it holds was voted on, so it is written, synced
// and renamed into place before any message or reply of the turn that
// changed it leaves, whatever `appendonly` says, and it survives crashes:
// the next start reads it whether the last stop was clean or not.
//
// A folder without the file is one a member of this format never ran in,
// or one that started under its first member list and never saw a change:
// the member list's configuration (epoch 1) is then the right one. A file
// that cannot be read stops the start (a member must not forget a
// configuration it voted for).
//
// The format is one RESP array of bulk strings, as the state file's
// records: the magic, a version, then the fields of MembershipState.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cluster/restart.h"

namespace lockerd::server {

std::string EncodeMembership(const cluster::MembershipState& state);
// The state, or nothing with `*problem` saying what is wrong.
std::optional<cluster::MembershipState> DecodeMembership(std::string_view bytes, std::string* problem);

class MembershipFile {
 public:
  explicit MembershipFile(std::string dir) : dir_(std::move(dir)) {}

  struct Loaded {
    std::optional<cluster::MembershipState> state;  // Nothing: no file.
    std::string problem;                            // A file that cannot be read.
  };
  Loaded Load() const;
  // Written to a temporary file, synced, renamed over the last one, and the
  // folder synced: a crash leaves the old file or the new one, whole. An
  // error message, or "".
  std::string Save(const cluster::MembershipState& state) const;

  std::string path() const { return dir_ + "/lockerd.membership"; }

 private:
  std::string dir_;
};

}  // namespace lockerd::server
