// The `dir` folder's own guards, checked before anything in it is read:
//   lockerd.lock     held with flock() by the one process that uses the
//                    folder (its pid inside, for the message a second
//                    process prints); the kernel lets go when the process
//                    ends, however it ends.
//   lockerd.members  the member list the folder's member runs with. A start
//                    with another list is refused: members restarted one at
//                    a time onto a new list can form two majorities at once
//                    (CLUSTER-SAFETY.md, "Restarts"). The override serves
//                    the stop-every-member procedure, and makes the member
//                    start as after a crash.
// state_file.h holds what the folder keeps of the cluster state.
#pragma once

#include <string>
#include <vector>

namespace lockerd::server {

class DataDir {
 public:
  explicit DataDir(std::string dir) : dir_(std::move(dir)) {}
  ~DataDir();
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;

  // Creates the folder (with its parents) and takes its lock. An error
  // message (naming the holder's pid when another process has it), or "".
  std::string Lock();

  // The member list as this start sees it: the cluster list and this
  // member's own address (empty for a member alone).
  struct Members {
    std::vector<std::string> cluster;
    std::string self;
  };
  // Compares `members` with the list remembered in the folder and records
  // it when there is none (or when `changed_on_purpose`). An error message
  // naming both lists and the safe procedure, or "". Sets `*changed` when
  // the list differs and the override allowed it.
  std::string CheckMembers(const Members& members, bool changed_on_purpose, bool* changed);

  std::string lock_path() const { return dir_ + "/lockerd.lock"; }
  std::string members_path() const { return dir_ + "/lockerd.members"; }

 private:
  std::string dir_;
  int lock_fd_ = -1;
};

}  // namespace lockerd::server
