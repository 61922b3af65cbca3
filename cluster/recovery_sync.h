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
//   Hopeless() says so, and the member falls back to the whole-cluster rule
//   (wall-clock floors for ballots and tokens, after its quarantine).
// - A member that starts with an empty dir in a cluster may be new, or may
//   have lost its disk. It asks the same question first (a first-start
//   check). Any answer showing a ballot or a token means it lost its memory,
//   and it recovers as above (the node decides, from history_seen()). The
//   cluster is new when no answer shows one and either every other member
//   answered (the members of a new cluster, all checking at once) or a
//   majority of the others knows it from a decision of its own: members
//   that never voted although they are past their own start, and members
//   that found the cluster new counting this run's earlier answer (they
//   vouch for it). The empty answer of a member that is checking too is no
//   such knowledge: it may have lost its disk as well.
//
// Pure: it decides, the node sends and applies.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "cluster/ballot.h"
#include "cluster/broken.h"
#include "cluster/limits.h"
#include "cluster/messages.h"
#include "cluster/state_digest.h"

namespace lockerd::cluster {

class RecoverySync {
 public:
  // `run_id` makes this run's nonces its own: an answer to an earlier run's
  // recovery, arriving late, never counts.
  // `broken`: rules a test breaks on purpose (broken.h); none in lockerd.
  RecoverySync(uint32_t voters, MemberId self, uint64_t run_id, int64_t delay_ms,
               int64_t retry_ms, BrokenRules broken = {});

  enum class Kind {
    kLostMemory,  // A crash, kill -9, SHUTDOWN NOSAVE, a changed member list.
    kFirstStart,  // An empty dir: a new member, or one that lost its disk.
  };
  // Starts asking (or carries a recovery over a clean stop).
  void Begin(int64_t now_ms, Kind kind);
  // The voters of the configuration the member adopted (one bit each): a
  // recovery counts the others among them (from the next Begin).
  // Answers counted so far are forgotten when they change: each must come
  // from the new configuration's voters, asked again.
  void SetVoters(uint32_t voters) {
    const uint32_t others = voters & ~(uint32_t{1} << self_);
    if (others == others_) return;
    others_ = others;
    answered_mask_ = recovering_mask_ = knowing_mask_ = 0;
    // The only voter: nobody can tell it what it lost (as a majority that
    // lost its memory at once: the wall-clock floors, Node::Tick).
    hopeless_ = others_ == 0;
    if (recovering_) next_request_ms_ = 0;  // Ask the new voters at once.
  }
  // A member that joins (epoch 0) heard a configuration: the requests go
  // again at once (the answers of members that knew it were not counted).
  void AskAgainSoon() {
    if (recovering_ && requests_sent_) next_request_ms_ = 0;
  }
  bool recovering() const { return recovering_; }
  // A member that lost its memory answers others' recoveries "recovering";
  // one checking that the cluster is new answers with what it has.
  bool lost_memory() const { return recovering_ && kind_ == Kind::kLostMemory; }
  uint64_t nonce() const { return nonce_; }
  // This run's name in nonces and answers (the run id's part of a nonce).
  uint64_t run() const { return RunOf(run_id_ << kRunShift); }
  static uint64_t RunOf(uint64_t nonce) { return (nonce & kNonceMask) >> kRunShift; }

  // Whether the requests are due now; RequestsSent() schedules the next.
  bool RequestsDue(int64_t now_ms) const { return recovering_ && now_ms >= next_request_ms_; }
  void RequestsSent(int64_t now_ms) {
    next_request_ms_ = now_ms + retry_ms_;
    requests_sent_ = true;
  }
  std::optional<int64_t> NextWakeMs() const;

  // An answer. True when it carries counters and ballots to learn (an
  // answer of a member that is not recovering, to this recovery).
  bool OnReply(MemberId from, const SyncReply& reply);
  // A majority of the others that are not recovering has answered.
  bool Complete() const;
  // So many of the others answered that they are recovering that the rest
  // could not make a majority of the others. It stays so for this recovery
  // even when one of them recovers later (by the whole-cluster rule itself,
  // in a three-member cluster whose third member is down): the fallback is
  // safe whatever the others know, and waiting for a member that is down
  // could last for ever.
  bool Hopeless() const { return hopeless_; }
  // A first-start check that has had no majority of answers for five
  // rounds of requests: some member is missing (down, or not started yet),
  // and the check cannot tell a new cluster from a lost disk. The member
  // then starts as after losing its memory (quarantine, recovery, or the
  // whole-cluster rule).
  bool FirstStartOverdue(int64_t now_ms) const;
  // A counted answer came from a member that has promised or accepted a
  // ballot, or seen a token: the cluster has history.
  bool history_seen() const { return history_seen_; }
  // Every other member answered this recovery, with its memory or saying
  // it is recovering: a member that joins and knows no configuration waits
  // for that before it takes the member list's first one (Node::Tick).
  bool EveryOtherAnswered() const { return (answered_mask_ | recovering_mask_) == others_; }
  // The others that have not answered, one bit each (for the log).
  uint32_t others_not_answered() const { return others_ & ~(answered_mask_ | recovering_mask_); }
  // The run of each member whose counted answer showed no vote of its own
  // (0: none): once this first start finds the cluster new, those runs had
  // not voted then, and the node vouches for them while they check.
  std::array<uint64_t, kMembersMax> UnvotedRuns() const;
  void Finish() { recovering_ = false; }

  size_t answered_count() const;
  size_t recovering_count() const;
  // Adds every field to `digest` (node_digest.cc).
  void Digest(StateDigest* digest) const;

 private:
  static constexpr int kRunShift = 12;
  static constexpr uint64_t kNonceMask = 0x7fff'ffff'ffff'ffffull;  // The peer codecs' range.

  uint32_t others_;  // The voters but this member: one bit per member.
  MemberId self_;
  uint64_t run_id_;
  int64_t delay_ms_;
  int64_t retry_ms_;
  BrokenRules broken_;
  bool recovering_ = false;
  Kind kind_ = Kind::kLostMemory;
  uint64_t begun_ = 0;
  int64_t began_ms_ = 0;
  uint64_t nonce_ = 0;
  bool requests_sent_ = false;  // Answers before this recovery's requests do not count.
  bool history_seen_ = false;
  bool hopeless_ = false;
  int64_t next_request_ms_ = 0;
  uint32_t answered_mask_ = 0;    // Members that answered with their memory.
  uint32_t recovering_mask_ = 0;  // Members whose last answer said "recovering".
  // Members whose last answer says, from a decision of their own, that the
  // asker never voted (decided and never voted themselves, or vouching).
  uint32_t knowing_mask_ = 0;
  std::array<uint64_t, kMembersMax> unvoted_runs_{};
};

}  // namespace lockerd::cluster
