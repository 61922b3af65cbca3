// The simulator's safety checkers, fed by the simulated clients as they go:
//   mutual exclusion: no two clients hold a key at the same real time, a
//     hold running from the successful reply until the client's own
//     deadline (send time + ttl * (1 - drift) on its clock) or its RELEASE;
//   fencing: each hold of a key has a larger token than every earlier one
//     (or, for a client that reuses its owner name, the same token it was
//     granted last, when no one was granted a larger one since);
//   release: after an acknowledged RELEASE the key is free on a majority;
//   liveness: judged by the world (a probe LOCK after the faults stop).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lockerd::sim {

class Checker {
 public:
  // A successful LOCK (start = reply time). Returns the hold's id.
  int Grant(const std::string& key, int client, uint64_t token, int64_t start_us, int64_t end_us);
  // A successful EXTEND: the hold `hold` ends at `start_us` and a new one with
  // the same token runs [start_us, end_us). Returns the new hold's id.
  int Extend(int hold, int64_t start_us, int64_t end_us);
  // The client stopped using the lock (sent RELEASE, or gave up) at `at_us`.
  void Cut(int hold, int64_t at_us);
  // RELEASE of `token` was acknowledged while `free_members` of `members`
  // did not hold it.
  void Released(const std::string& key, uint64_t token, size_t free_members, size_t members,
                int64_t at_us);
  void Fail(std::string violation);

  bool ok() const { return violations_.empty(); }
  const std::vector<std::string>& violations() const { return violations_; }
  uint64_t holds() const { return holds_.size(); }

 private:
  struct Hold {
    std::string key;
    int client;
    uint64_t token;
    int64_t start_us;
    int64_t end_us;
  };
  void CheckOverlap(const Hold& hold);

  std::vector<Hold> holds_;
  std::map<std::string, std::vector<int>> by_key_;
  struct TokenHolder {
    uint64_t token = 0;
    int client = -1;
  };
  std::map<std::string, TokenHolder> max_token_;  // The largest token granted, per key.
  std::vector<std::string> violations_;
};

}  // namespace lockerd::sim
