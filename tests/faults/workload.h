// The workload of the fault suite: concurrent clients that take a handful of
// contended locks through random members, hold them for a random time
// (renewing long holds with EXTEND), write to a guarded resource with their
// fencing token while they hold, and release. Every hold is recorded on the
// test's own monotonic clock, for the checker.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/faults/members.h"

namespace lockerd::faults {

int64_t NowUs();  // The test's monotonic clock, in microseconds.

// A fenced store, as a user's resource would be: it remembers the largest
// token that wrote to each key and rejects a write with a smaller one. A
// rejected write is a holder acting on a lock a newer holder already has.
class GuardedStore {
 public:
  bool Write(const std::string& key, uint64_t token, int client, int64_t at_us);
  struct Rejection {
    std::string key;
    uint64_t token;
    uint64_t newest;
    int client;
    int64_t at_us;
  };
  std::vector<Rejection> rejections() const;
  uint64_t writes() const { return writes_; }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> newest_;
  std::vector<Rejection> rejections_;
  std::atomic<uint64_t> writes_{0};
};

struct Hold {
  int client = 0;
  std::string key;
  size_t member = 0;
  uint64_t token = 0;
  int64_t sent_us = 0;   // LOCK (or the EXTEND that started this stretch) sent.
  int64_t start_us = 0;  // Its success reply.
  int64_t end_us = 0;    // RELEASE sent, or the client's own deadline.
};

struct Attempt {
  int64_t sent_us = 0;
  bool answered = false;  // A token or null; not an error or a timeout.
  bool acquired = false;
};

struct ReleaseCheck {
  std::string key;
  uint64_t token = 0;
  int64_t acked_us = 0;
  size_t still_held_on = 0;  // Members showing the token ~300 ms later.
  size_t asked = 0;          // Members that answered the check.
};

class Workload {
 public:
  Workload(Members& members, size_t clients, size_t keys, uint64_t seed, double drift);
  ~Workload();
  void Start();
  void Stop();

  std::vector<Hold> holds() const;
  std::vector<Attempt> attempts() const;
  std::vector<ReleaseCheck> release_checks() const;
  const GuardedStore& store() const { return store_; }

 private:
  void Client(int id, uint64_t seed);
  void CheckReleases();  // One thread: runs each queued check when due.

  Members& members_;
  size_t clients_;
  size_t keys_;
  uint64_t seed_;
  double drift_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  mutable std::mutex mutex_;
  std::vector<Hold> holds_;
  std::vector<Attempt> attempts_;
  std::vector<ReleaseCheck> release_checks_;
  std::thread checker_;
  std::vector<ReleaseCheck> checks_due_;  // Queued, in order of acked_us.
  GuardedStore store_;
};

}  // namespace lockerd::faults
