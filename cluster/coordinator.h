// The coordinator's rules of the single-key Paxos round (CLUSTER-SAFETY.md,
// steps 1-4): pick a ballot, gather promises from a majority, decide the new
// state from the highest accepted register, gather accepts from a majority,
// and answer only while the lease is still worth something.
//
// Any member coordinates the writes its clients send; there is no leader. It
// never sends, sleeps or reads a clock: it appends messages to an outbox and
// results to a list, and is told the time.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/ballot.h"
#include "cluster/broken.h"
#include "cluster/decision.h"
#include "cluster/membership.h"
#include "cluster/messages.h"
#include "cluster/quorum.h"
#include "cluster/state_digest.h"
#include "cluster/string_hash.h"
#include "cluster/time.h"
#include "cluster/write_request.h"

namespace lockerd::cluster {

struct CoordinatorOptions {
  // The configuration the member starts under (Coordinator::SetMembership
  // changes it).
  Membership membership;
  MemberId self = 0;
  double drift = 0.01;
  int64_t max_lease_ms = 60'000;
  int64_t round_timeout_ms = 500;
  uint64_t seed = 1;  // Backoff jitter; the simulator fixes it.
  BrokenRules broken;  // Rules a test breaks on purpose (broken.h); none in lockerd.
};

struct CoordinatorStats {
  uint64_t rounds_started = 0;
  uint64_t rounds_retried = 0;
  uint64_t rounds_timed_out = 0;
  uint64_t rounds_gave_up = 0;  // Pre-empted kRoundAttemptsMax times.
  uint64_t grants_too_late = 0;  // Majority came after the lease's validity.
  uint64_t stale_replies = 0;
  uint64_t writes_queued = 0;  // Waited behind this member's round on the key.
  uint64_t peeks = 0;           // LOCKs that read a majority first.
  uint64_t peek_refusals = 0;   // ... and were refused without a round.
  uint64_t queued_locks_refused = 0;  // Refused with the LOCK ahead of them.
  // RELEASE retries that found their earlier attempt carried on by a rival
  // round (see Round::release_sent).
  uint64_t releases_carried_on = 0;
  // One-round-trip writes (see TryFastAttempt), and those a majority did
  // not take (a member had moved on; they ran a full round).
  uint64_t fast_rounds = 0;
  uint64_t fast_rounds_refused = 0;
};

// This member's own register for a key, as the coordinator's fast path
// reads it.
struct LocalRegister {
  Ballot promised;
  Ballot accepted;
  LeaseView lease;
  int64_t written_ms = 0;  // When this member applied `accepted`'s state.
};

class Coordinator {
 public:
  explicit Coordinator(CoordinatorOptions options);
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Starts a round; its messages go to `outbox`, its result (maybe at once,
  // maybe after replies or a timeout) to the results list. A write to a key
  // this coordinator has a round for waits for that round to end, so that
  // its own rounds never pre-empt each other: many clients on one hot key
  // would otherwise duel through one member and starve the holder's RELEASE.
  void Submit(WriteRequest request, Time now, std::vector<Message>* outbox);
  void OnPromise(MemberId from, const Promise& promise, Time now, std::vector<Message>* outbox);
  void OnAccepted(MemberId from, const Accepted& accepted, Time now,
                  std::vector<Message>* outbox);
  // Times out rounds and starts retries that are due.
  void Tick(Time now, std::vector<Message>* outbox);
  std::optional<int64_t> NextWakeMs() const;

  // Appends the results of finished rounds to `out`, in the order they
  // finished.
  void TakeResults(std::vector<WriteResult>* out);

  // Says whether a LOCK will likely be refused (its member sees the key held
  // by another owner): such a LOCK peeks first (see OnPeekReply).
  using RefusalHint = std::function<bool(const WriteRequest&, Time)>;
  void SetRefusalHint(RefusalHint hint) { refusal_hint_ = std::move(hint); }
  // Reads this member's register for a key (false: it has none). Without
  // it, every write runs both phases.
  using LocalView = std::function<bool(const std::string& key, Time, LocalRegister*)>;
  void SetLocalView(LocalView view) { local_view_ = std::move(view); }
  // Makes this member's register for a key promise a ballot (a
  // one-round-trip write takes its step this way, so the step is never
  // used twice). Needed with a LocalView.
  using LocalPromise = std::function<void(const std::string& key, Ballot, Time)>;
  void SetLocalPromise(LocalPromise promise) { local_promise_ = std::move(promise); }
  // Whether this member can reach `member` now (its peer link is up). A
  // one-round-trip write is tried only while a majority is reachable: it
  // changes this member's own register as it is sent, which a write that
  // cannot succeed should not do. Members count as reachable until told.
  void SetReachable(MemberId member, bool reachable) {
    const uint32_t bit = uint32_t{1} << member;
    unreachable_ = reachable ? (unreachable_ & ~bit) : (unreachable_ | bit);
  }
  // The configuration this coordinator's new attempts run under. An attempt
  // keeps the one it started with: its messages carry that epoch, and its
  // tally counts that configuration's voters (membership.h).
  void SetMembership(const Membership& membership) { membership_ = membership; }
  const Membership& membership() const { return membership_; }
  // Each key has a home voter (by hash; the same on every member of one
  // configuration): in a duel it retries first (coordinator_retry.cc).
  MemberId HomeMember(std::string_view key) const;
  size_t rounds_in_flight() const { return rounds_.size(); }
  size_t writes_queued() const { return queued_count_; }
  const CoordinatorStats& stats() const { return stats_; }
  // Adds every field that can change what this coordinator does later (not
  // its statistics) to `digest` (node_digest.cc).
  void Digest(StateDigest* digest) const;

  // Ballots only grow; after a restart the coordinator starts above the
  // highest ballot its member saved.
  void RaiseBallot(Ballot seen);
  // A fresh ballot of this coordinator, above `floor` (a member alone uses
  // it to commit without a round).
  Ballot NextBallotAbove(Ballot floor) {
    ballot_round_ = std::max(ballot_round_, floor.round) + 1;
    return {ballot_round_, options_.self};
  }
  Ballot last_ballot() const { return {ballot_round_, options_.self}; }
  // A fresh ballot for a round of this member (its transactions' rounds
  // share the counter, so that no ballot is used twice on one key).
  Ballot TakeBallot() {
    if (first_own_round_ == 0) first_own_round_ = ballot_round_ + 1;
    return {++ballot_round_, options_.self};
  }
  // What -TRYAGAIN says while members are in restart quarantine.
  static std::string QuarantineDetail(int64_t quarantine_left_ms);

 private:
  enum class Phase { kPeek, kPromise, kAccept, kBackoff };

  struct Round {
    WriteRequest request;
    Ballot ballot;
    Phase phase = Phase::kPromise;
    int attempt = 0;
    uint64_t epoch = 0;  // Of the configuration this attempt runs under.
    int64_t sent_ms = 0;      // When this attempt's promises were sent.
    int64_t deadline_ms = 0;  // When this attempt gives up.
    int64_t retry_at_ms = 0;  // With kBackoff.
    QuorumTally tally;
    bool quarantined = false;  // Some member answered kQuarantined.
    bool outvoted = false;     // Some member had promised a higher ballot.
    int64_t quarantine_left_ms = 0;
    // The chosen register: the highest accepted ballot among the promises.
    bool chosen_set = false;
    Ballot chosen_ballot;
    LeaseView chosen;
    uint64_t counter_max = 0;
    Accept accept;  // The decided state, once in kAccept.
    bool peeks_agree = true;  // kPeek: every reply so far reported the same register.
    uint64_t attempt_seq = 0;  // submit_seq_ when this attempt sent its reads.
    // A RELEASE whose accepts went out: its "free" may have reached only a
    // minority and been carried on by a rival round (which takes the highest
    // accepted state), so a retry can find the key free or held by the next
    // holder. Until `release_lease_floor_ms`, the earliest its holder's lease
    // could have run out, only that release (or a DEL) can have ended the
    // lease: the retry writes the state it found again at its own ballot, so
    // that no later round can choose the old lease, and answers released.
    bool release_sent = false;
    Ballot release_ballot;
    uint64_t release_token = 0;
    int64_t release_lease_floor_ms = 0;
    // What earlier attempts' accepts did, once some went out. Any of them
    // may have reached a minority and been carried on by a rival round
    // (which takes the highest accepted state), so a retry must recognise
    // its own write in what it finds, and must never act on a lease other
    // than the one its accepts acted on: a DEL, RELEASE or EXTEND retried
    // after its first attempt was carried on would otherwise end or renew
    // the next holder's lease, and with clients that share one owner value
    // (Celery's task id, a host name) "the owner's lease" is not one lease.
    // See DecideAttempt.
    bool accepts_sent = false;
    Ballot accepts_ballot;       // The attempt whose accepts set what follows.
    bool acted_on_held = false;  // The lease the first accepts were decided from.
    uint64_t acted_on_token = 0;
    // Fresh grants proposed by LOCK, each with the ballot of its accepts:
    // two coordinators can propose the same token (the same counters and
    // millisecond), so only the pair says the state found is this round's.
    std::vector<std::pair<Ballot, uint64_t>> granted;
    // This attempt skipped phase 1 (TryFastAttempt); a refusal then runs a
    // full round at once, and only one fast attempt is made.
    bool fast = false;
    bool fast_tried = false;
    // A one-round-trip write reaches this member's own register only once
    // a majority less one of the others accepted it (see TryFastAttempt).
    bool own_accept_sent = false;
  };
  // A write decided from this member's own register and sent straight to
  // phase 2, when that register shows the write is safe to try so (see
  // coordinator_fast_write.cc). False: run the full round.
  bool TryFastAttempt(uint64_t round_id, Round& round, Time now, std::vector<Message>* outbox);
  // The write `round`'s attempt makes from the register it found: the
  // request's decision (decision.h), unless an earlier attempt's accepts
  // went out (Round::accepts_sent).
  Decision DecideAttempt(const Round& round, Time now) const;
  // The state `round` found, written again at its ballot as a write-back
  // (Paxos re-proposes the highest accepted state; Accept::carry_from).
  Decision CarryOn(const Round& round) const;
  // `round` proposed the grant of `token` at `ballot` (Round::granted).
  static bool OwnGrant(const Round& round, Ballot ballot, uint64_t token);
  // A refused attempt whose accepts every member refused (this member's own
  // included) took effect nowhere, so nothing of it can be carried on: its
  // retry decides afresh (a one-round-trip attempt decided from a stale
  // register would otherwise bind the retry to a lease that had ended).
  void ForgetIfAcceptedNowhere(Round& round) const;
  // Phase 2 of `round` with `decision`.
  void SendAccepts(uint64_t round_id, Round& round, const Decision& decision,
                   std::vector<Message>* outbox);
  // A RELEASE retry that finds the key no longer held by its owner: true
  // when the release's own earlier attempt is what ended the lease.
  bool EarlierAttemptReleased(const Round& round, Time now) const;

  // Records one member's vote in the round's tally (a "no" also raises our
  // ballot above the one that beat us). False for a duplicate or a stranger.
  bool Count(Round& round, MemberId from, Vote vote, Ballot highest, int64_t quarantine_left_ms);
  void StartAttempt(uint64_t round_id, Round round, Time now, std::vector<Message>* outbox,
                    bool may_peek = true);
  void OnPeekReply(MemberId from, uint64_t round_id, Round& round, const Promise& reply, Time now,
                   std::vector<Message>* outbox);
  void Decide(uint64_t round_id, Round& round, Time now, std::vector<Message>* outbox);
  void Completed(uint64_t round_id, Round& round, Time now, std::vector<Message>* outbox);
  void Retry(uint64_t round_id, Round& round, Time now, std::vector<Message>* outbox);
  // Ends an attempt whose deadline has passed (true), as Tick does.
  bool TimedOut(uint64_t round_id, Round& round, Time now, std::vector<Message>* outbox);
  void TimeOut(uint64_t round_id, Round& round, Time now, std::vector<Message>* outbox);
  void Finish(uint64_t round_id, WriteOutcome outcome, uint64_t token, std::string detail);
  // A LOCK refused because `holder_token`'s owner holds the key: LOCKs by
  // other owners queued behind it before its reads went out are refused
  // with it (that state held during their wait too), instead of each
  // reading a majority in turn while the holder's RELEASE waits behind them.
  void RefuseQueuedLocks(const Round& round, uint64_t holder_token, int64_t holder_remaining_ms);
  // Starts the next queued write of each key whose round ended, and fails
  // queued writes that waited longer than a round may take.
  void StartQueued(Time now, std::vector<Message>* outbox);
  void Broadcast(const Round& round, uint64_t round_id, std::vector<Message>* outbox) const;
  std::string DescribeAnswers(const Round& round) const;
  static std::optional<WriteRequest> RollbackOf(const Round& round);

  CoordinatorOptions options_;
  Membership membership_;
  RefusalHint refusal_hint_;
  LocalView local_view_;
  LocalPromise local_promise_;
  uint32_t unreachable_ = 0;  // One bit per member.
  uint64_t ballot_round_ = 0;
  uint64_t first_own_round_ = 0;  // Of this run's first ballot (0: none yet).
  uint64_t next_round_id_ = 1;
  std::unordered_map<uint64_t, Round> rounds_;
  struct Queued {
    WriteRequest request;
    int64_t queued_ms = 0;
    uint64_t seq = 0;  // From submit_seq_: orders arrivals against attempts.
  };
  // Counts submissions; an attempt records it when it sends its reads.
  uint64_t submit_seq_ = 0;
  // Keys with a round in flight here, each with the writes waiting for it
  // (in arrival order).
  StringMap<std::list<Queued>> keys_in_flight_;
  size_t queued_count_ = 0;
  std::vector<std::string> keys_done_;  // Their round ended: start the next.
  std::vector<WriteResult> results_;
  int64_t results_holder_remaining_ms_ = 0;  // Passed from Decide to Finish.
  std::mt19937_64 rng_;
  CoordinatorStats stats_;
};

}  // namespace lockerd::cluster
