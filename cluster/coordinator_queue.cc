// Coordinator: the line of writes waiting behind this member's round on a
// key (Coordinator::Submit queues them): the next one starts when the round
// ends, one that waited longer than a round may take is answered, and LOCKs
// a refusal also answers are refused with it. Rounds themselves are
// coordinator.cc's.
#include <string>
#include <utility>
#include <vector>

#include "cluster/coordinator.h"

namespace lockerd::cluster {

void Coordinator::RefuseQueuedLocks(const Round& round, uint64_t holder_token,
                                    int64_t holder_remaining_ms) {
  const auto line = keys_in_flight_.find(round.request.key);
  if (line == keys_in_flight_.end()) return;
  // The reads saw round.chosen held at some instant after the attempt sent
  // them; a LOCK queued before that was still waiting at that instant, so
  // refusing it there is as linearizable as refusing this one. The holder's
  // own LOCK is left to run: it renews (its SET NX is refused too).
  for (auto it = line->second.begin(); it != line->second.end();) {
    const WriteRequest& queued = it->request;
    if (it->seq > round.attempt_seq || queued.op != WriteOp::kLock ||
        (queued.owner == round.chosen.owner && !queued.only_if_free)) {
      ++it;
      continue;
    }
    if (queued.request_id != 0) {
      results_.push_back({queued.request_id, WriteOutcome::kRefused, holder_token, holder_remaining_ms, {}});
    }
    ++stats_.queued_locks_refused;
    --queued_count_;
    it = line->second.erase(it);
  }
}

void Coordinator::StartQueued(Time now, std::vector<Message>* outbox) {
  while (!keys_done_.empty()) {
    std::vector<std::string> done;
    done.swap(keys_done_);
    for (const std::string& key : done) {
      const auto line = keys_in_flight_.find(key);
      if (line == keys_in_flight_.end()) continue;
      if (line->second.empty()) {
        keys_in_flight_.erase(line);
        continue;
      }
      Queued next = std::move(line->second.front());
      line->second.pop_front();
      --queued_count_;
      const int64_t waited_ms = now.mono_ms - next.queued_ms;
      if (waited_ms > options_.round_timeout_ms && next.request.op != WriteOp::kRollback) {
        // The rounds ahead of it took as long as one may: answer rather
        // than make the client wait a round more.
        if (next.request.request_id != 0) {
          results_.push_back({next.request.request_id, WriteOutcome::kNoQuorum, 0, 0,
                              "waited " + std::to_string(waited_ms) +
                                  " ms behind other writes to the key on this member"});
        }
        keys_done_.push_back(key);
        continue;
      }
      Round round;
      round.request = std::move(next.request);
      StartAttempt(next_round_id_++, std::move(round), now, outbox);
    }
  }
}

}  // namespace lockerd::cluster
