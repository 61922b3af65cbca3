// The recovering member's side of recovery without stable storage
// (Michael, Ports, Sharma, Szekeres, "Recovering Shared Objects Without
// Stable Storage", DISC 2017; CLUSTER-SAFETY.md): a member that lost its
// memory learns the highest ballots and the token counters from a majority
// of the other members that are not recovering themselves, before it votes.
//
// - It asks only once every round that might have counted its lost votes
//   has ended (`delay_ms` after it started: a round timeout and the age
//   limit of commits, stretched by the drift), so that the answers reflect
//   what those rounds did.
// - An answer from a member that is itself recovering says so and never
//   counts: its memory is as empty as ours.
// - Any value chosen before the crash is on a majority; with this member
//   among them, the rest is a minority of the others, which a majority of
//   the others always meets.
// - Where the members that are not recovering are too few to make that
//   majority (a majority lost its memory at once), waiting cannot help:
//   Fallback() says so, and the member falls back to the whole-cluster rule
//   (wall-clock floors for ballots and tokens, after its quarantine).
//
// Pure: it decides, the node sends and applies.
#pragma once

#include <cstdint>
#include <optional>

#include "cluster/ballot.h"
#include "cluster/messages.h"

namespace lockerd::cluster {

class RecoverySync {
 public:
  RecoverySync(size_t members_count, MemberId self, int64_t delay_ms, int64_t retry_ms);

  // The member lost its memory (or carries a recovery over a clean stop).
  void Begin(int64_t now_ms);
  bool recovering() const { return recovering_; }
  uint64_t nonce() const { return nonce_; }

  // Whether the requests are due now; RequestsSent() schedules the next.
  bool RequestsDue(int64_t now_ms) const { return recovering_ && now_ms >= next_request_ms_; }
  void RequestsSent(int64_t now_ms) { next_request_ms_ = now_ms + retry_ms_; }
  std::optional<int64_t> NextWakeMs() const;

  // An answer. True when it carries counters and ballots to learn (an
  // answer of a member that is not recovering, to this recovery).
  bool OnReply(MemberId from, const SyncReply& reply);
  // A majority of the others that are not recovering has answered.
  bool Complete() const;
  // So many of the others answered that they are recovering that the rest
  // cannot make a majority of the others.
  bool Hopeless() const;
  void Finish() { recovering_ = false; }

  size_t answered_count() const;
  size_t recovering_count() const;

 private:
  size_t members_count_;
  MemberId self_;
  int64_t delay_ms_;
  int64_t retry_ms_;
  bool recovering_ = false;
  uint64_t nonce_ = 0;
  int64_t next_request_ms_ = 0;
  uint32_t answered_mask_ = 0;    // Members that answered with their memory.
  uint32_t recovering_mask_ = 0;  // Members whose last answer said "recovering".
};

}  // namespace lockerd::cluster
