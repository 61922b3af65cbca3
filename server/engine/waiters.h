// Blocked clients: LOCK ... WAIT (acquirers) and WAIT (observers), queued per
// key in arrival order, with one index of timeouts ordered by (deadline,
// client id). When a key is freed, every observer wakes (the key is free, as
// they asked) and so does the first acquirer only (it will take the key; the
// next one waits for the next release): first come, first served.
// Acquirers and observers queue apart, so a wake touches only those it
// wakes: the 10,000th waiter costs what the first does.
//
// It does not reply or touch the lease table: it says who wakes and who
// timed out, and the engine acts.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cluster/string_hash.h"
#include "cluster/write_request.h"

namespace lockerd::server {

// Forever: a WAIT timeout of 0.
inline constexpr int64_t kNoDeadline = INT64_MAX;

enum class WaiterKind : uint8_t { kAcquire, kObserve };

struct Waiter {
  uint64_t client_id = 0;
  std::string key;
  WaiterKind kind = WaiterKind::kObserve;
  int64_t deadline_ms = kNoDeadline;
  cluster::WriteRequest request;  // kAcquire: the LOCK to run when woken.
};

class WaiterQueue {
 public:
  explicit WaiterQueue(cluster::HashKey hash_key = {}) : lines_(16, cluster::StringHash{hash_key}) {}

  // Returns false when the key already has `per_key_max` waiters. A client
  // waits for at most one key at a time.
  bool Add(Waiter waiter, size_t per_key_max);
  // Puts a woken acquirer that lost the race back at the head of its queue.
  void AddFront(Waiter waiter);
  // Forgets the client's wait, if any (disconnect, reply sent).
  std::optional<Waiter> Remove(uint64_t client_id);

  // The waiters a release of `key` wakes, removed from the queue.
  std::vector<Waiter> TakeWoken(std::string_view key);
  // Waiters whose deadline is at or before now, removed from the queue.
  std::vector<Waiter> TakeTimedOut(int64_t now_ms);
  // True while a LOCK ... WAIT client is queued on `key`: a newcomer must
  // queue behind it rather than take a freed key first.
  bool HasAcquirers(std::string_view key) const;

  std::optional<int64_t> NextDeadlineMs() const;
  bool HasWaiters(std::string_view key) const;
  size_t size() const { return by_client_.size(); }

 private:
  struct Line {
    std::list<Waiter> acquirers;  // In arrival order.
    std::list<Waiter> observers;
    size_t size() const { return acquirers.size() + observers.size(); }
  };
  struct Place {
    Line* line;
    std::list<Waiter>* queue;  // &line->acquirers or &line->observers.
    std::list<Waiter>::iterator position;
  };

  void Insert(Waiter waiter, bool front);
  // Unlinks the entry at `place`, whose contents were moved into `waiter`.
  void Detach(std::unordered_map<uint64_t, Place>::iterator place, const Waiter& waiter);

  cluster::StringMap<Line> lines_;
  std::unordered_map<uint64_t, Place> by_client_;
  std::set<std::pair<int64_t, uint64_t>> timeouts_;  // (deadline, client id)
};

}  // namespace lockerd::server
