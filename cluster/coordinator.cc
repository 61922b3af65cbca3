// Coordinator: a round's life from submission to answer (attempts, the
// peek, promises, the decision, accepts, timeouts, results). Split by job
// beside it: the one-round-trip write (coordinator_fast_write.cc), what a
// pre-empted write does next (coordinator_retry.cc), and the line of writes
// waiting behind a round on their key (coordinator_queue.cc).
#include "cluster/coordinator.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>

#include "base/check.h"
#include "cluster/decision.h"
#include "cluster/lease_math.h"
#include "cluster/limits.h"
#include "cluster/peek.h"
#include "cluster/promise_merge.h"

namespace lockerd::cluster {
namespace {

bool GrantsLease(WriteOp op) {
  return op == WriteOp::kLock || op == WriteOp::kExtend || op == WriteOp::kSwap;
}

}  // namespace

Coordinator::Coordinator(CoordinatorOptions options)
    : options_(options),
      membership_(options.membership),
      keys_in_flight_(16, StringHash{HashKeyFromSeed(options.seed)}),
      rng_(options.seed) {
  // Round ids start at a random point, so that a reply to a round of an
  // earlier run of this member (a late packet after a restart) is unlikely
  // to find a round with its id; the echoed ballot must match as well.
  next_round_id_ = 1 + (rng_() >> 20);
  CHECK(membership_.Valid());
  CHECK(options_.self < kMembersMax);
}

void Coordinator::RaiseBallot(Ballot seen) { ballot_round_ = std::max(ballot_round_, seen.round); }

void Coordinator::Submit(WriteRequest request, Time now, std::vector<Message>* outbox) {
  if (rounds_.size() + queued_count_ >= kRoundsInFlightMax) {
    if (request.request_id != 0) {
      results_.push_back({request.request_id, WriteOutcome::kTryAgain, 0, 0,
                          "too many writes in flight on this member"});
    }
    return;
  }
  auto [line, key_idle] = keys_in_flight_.try_emplace(request.key);
  if (!key_idle) {
    ++queued_count_;
    ++stats_.writes_queued;
    // A rollback undoes a grant that may be half accepted: it goes first.
    const bool first = request.op == WriteOp::kRollback;
    line->second.insert(first ? line->second.begin() : line->second.end(),
                        Queued{std::move(request), now.mono_ms, ++submit_seq_});
    return;
  }
  Round round;
  round.request = std::move(request);
  StartAttempt(next_round_id_++, std::move(round), now, outbox);
}

void Coordinator::StartAttempt(uint64_t round_id, Round round, Time now,
                               std::vector<Message>* outbox, bool may_peek) {
  ++stats_.rounds_started;
  round.peeks_agree = true;
  round.attempt_seq = ++submit_seq_;
  round.sent_ms = now.mono_ms;
  round.deadline_ms = now.mono_ms + options_.round_timeout_ms;
  round.epoch = membership_.epoch;
  round.tally = QuorumTally::Of(membership_.voters);
  round.quarantined = false;
  round.outvoted = false;
  round.quarantine_left_ms = 0;
  round.chosen_set = false;
  round.chosen_ballot = {};
  round.chosen = {};
  round.counter_max = 0;
  round.fast = false;
  auto [it, inserted] = rounds_.emplace(round_id, std::move(round));
  CHECK(inserted);
  Round& placed = it->second;
  if (TryFastAttempt(round_id, placed, now, outbox)) return;
  placed.ballot = TakeBallot();
  // A LOCK peeks first when its member sees the key held by another owner,
  // and when it was pre-empted: whoever pre-empted it may hold the key now,
  // and a peek that finds so ends the duel without raising the ballot again.
  const bool peek = may_peek && placed.request.op == WriteOp::kLock &&
                    (placed.attempt > 0 || (refusal_hint_ && refusal_hint_(placed.request, now)));
  if (peek) ++stats_.peeks;
  placed.phase = peek ? Phase::kPeek : Phase::kPromise;
  Broadcast(placed, round_id, outbox);
}

void Coordinator::Broadcast(const Round& round, uint64_t round_id,
                            std::vector<Message>* outbox) const {
  ForEachMember(round.tally.voters(), [&](MemberId member) {
    // A one-round-trip write reaches this member last (OnAccepted).
    if (round.fast && round.phase == Phase::kAccept && member == options_.self) return;
    Message message{options_.self, member, {}};
    message.epoch = round.epoch;
    if (round.phase == Phase::kPromise || round.phase == Phase::kPeek) {
      message.body = Prepare{round_id, round.request.key, round.ballot, round.phase == Phase::kPeek};
    } else {
      message.body = round.accept;
    }
    outbox->push_back(std::move(message));
  });
}

bool Coordinator::Count(Round& round, MemberId from, Vote vote, Ballot highest,
                        int64_t quarantine_left_ms) {
  if (vote == Vote::kYes) return round.tally.RecordYes(from);
  RaiseBallot(highest);
  // A newer configuration beats this attempt as a higher ballot does: the
  // retry runs under it (the Configuration came before the refusal).
  if (vote == Vote::kNo || vote == Vote::kStaleEpoch) round.outvoted = true;
  if (vote == Vote::kQuarantined) {
    round.quarantined = true;
    round.quarantine_left_ms = std::max(round.quarantine_left_ms, quarantine_left_ms);
  }
  return round.tally.RecordNo(from);
}

void Coordinator::OnPromise(MemberId from, const Promise& promise, Time now,
                            std::vector<Message>* outbox) {
  const auto it = rounds_.find(promise.round_id);
  if (it != rounds_.end() && promise.ballot == it->second.ballot &&
      TimedOut(promise.round_id, it->second, now, outbox)) {
    return;
  }
  if (it != rounds_.end() && it->second.phase == Phase::kPeek && promise.ballot == it->second.ballot) {
    OnPeekReply(from, promise.round_id, it->second, promise, now, outbox);
    return StartQueued(now, outbox);
  }
  if (it == rounds_.end() || it->second.phase != Phase::kPromise ||
      promise.ballot != it->second.ballot ||
      !Count(it->second, from, promise.vote, promise.highest, promise.quarantine_left_ms)) {
    ++stats_.stale_replies;
    return;
  }
  Round& round = it->second;
  if (promise.vote == Vote::kYes) {
    (void)MergePromiseYes(promise, &round.chosen_set, &round.chosen_ballot, &round.chosen);
    round.counter_max = std::max(round.counter_max, promise.token_counter);
  }
  if (round.tally.Reached() || (options_.broken.success_without_majority && round.tally.yes_count() > 0)) {
    Decide(promise.round_id, round, now, outbox);
  } else if (round.tally.Impossible()) {
    Retry(promise.round_id, round, now, outbox);
  }
  StartQueued(now, outbox);
}

// A peek refuses a LOCK without a round only when a majority agreed on a
// register held by another owner: that state was chosen and nothing after
// it (peek.h says why), so the refusal is as linearizable as a round's, and
// it promised nothing, so it pre-empts no one. Anything else (a
// disagreement, a free key, no majority) runs the full round.
void Coordinator::OnPeekReply(MemberId from, uint64_t round_id, Round& round, const Promise& reply,
                              Time now, std::vector<Message>* outbox) {
  if (!Count(round, from, reply.vote, reply.highest, reply.quarantine_left_ms)) {
    ++stats_.stale_replies;
    return;
  }
  if (reply.vote == Vote::kYes) {
    if (!MergePeekYes(reply, &round.chosen_set, &round.chosen_ballot, &round.chosen)) {
      round.peeks_agree = false;
    }
    round.counter_max = std::max(round.counter_max, reply.token_counter);
  }
  const PeekStep step = NextPeekStep(round.peeks_agree, round.tally);
  if (step == PeekStep::kWait) return;
  if (step == PeekStep::kAgreed && round.chosen.held) {
    const Decision decision = DecideAttempt(round, now);
    if (decision.kind == Decision::Kind::kRefuse) {
      ++stats_.peek_refusals;
      RefuseQueuedLocks(round, decision.holder_token, decision.holder_remaining_ms);
      results_holder_remaining_ms_ = decision.holder_remaining_ms;
      return Finish(round_id, WriteOutcome::kRefused, decision.holder_token, {});
    }
  }
  // Not a clear refusal: the full round decides.
  Round moved = std::move(round);
  rounds_.erase(round_id);
  StartAttempt(next_round_id_++, std::move(moved), now, outbox, /*may_peek=*/false);
}

void Coordinator::Decide(uint64_t round_id, Round& round, Time now,
                         std::vector<Message>* outbox) {
  Decision decision = DecideAttempt(round, now);
  if (decision.kind == Decision::Kind::kRefuse && EarlierAttemptReleased(round, now)) {
    // Write what was found (free, or the next holder's lease unchanged) at
    // this ballot, as Paxos re-proposes the highest accepted value.
    ++stats_.releases_carried_on;
    decision = CarryOn(round);
  }
  switch (decision.kind) {
    case Decision::Kind::kRefuse:
      if (round.request.op == WriteOp::kLock && round.chosen.held) {
        RefuseQueuedLocks(round, decision.holder_token, decision.holder_remaining_ms);
      }
      results_holder_remaining_ms_ = decision.holder_remaining_ms;
      return Finish(round_id, WriteOutcome::kRefused, decision.holder_token, {});
    case Decision::Kind::kNothing:
      return Finish(round_id, WriteOutcome::kDone, 0, {});
    case Decision::Kind::kCommit:
      break;
  }
  SendAccepts(round_id, round, decision, outbox);
}

void Coordinator::SendAccepts(uint64_t round_id, Round& round, const Decision& decision,
                              std::vector<Message>* outbox) {
  if (round.request.op == WriteOp::kRelease && !round.release_sent && decision.held == false &&
      round.chosen.held && round.chosen.owner == round.request.owner) {
    round.release_sent = true;
    round.release_ballot = round.ballot;
    round.release_token = round.chosen.token;
    // The lease ran at least this long on every member's clock: the time
    // reported left, less the drift allowance, from when this attempt's
    // promises went out.
    round.release_lease_floor_ms =
        round.sent_ms + static_cast<int64_t>(static_cast<double>(round.chosen.remaining_ms) *
                                             (1.0 - options_.drift));
  }
  if (!round.accepts_sent) {
    round.accepts_sent = true;
    round.accepts_ballot = round.ballot;
    round.acted_on_held = round.chosen.held;
    round.acted_on_token = round.chosen.held ? round.chosen.token : 0;
  }
  const bool renews_found = round.chosen.held && decision.token == round.chosen.token &&
                            !OwnGrant(round, round.chosen_ballot, round.chosen.token);
  if (round.request.op == WriteOp::kLock && decision.held && !renews_found) {
    round.granted.emplace_back(round.ballot, decision.token);
  }
  round.accept = Accept{round_id,       round.request.key, round.ballot,   decision.held,
                        decision.owner, decision.token,    decision.ttl_ms, decision.carry_from};
  round.phase = Phase::kAccept;
  round.tally = QuorumTally::Of(round.tally.voters());
  Broadcast(round, round_id, outbox);
}

void Coordinator::OnAccepted(MemberId from, const Accepted& accepted, Time now,
                             std::vector<Message>* outbox) {
  const auto it = rounds_.find(accepted.round_id);
  if (it != rounds_.end() && accepted.ballot == it->second.ballot &&
      TimedOut(accepted.round_id, it->second, now, outbox)) {
    return;
  }
  if (it == rounds_.end() || it->second.phase != Phase::kAccept ||
      accepted.ballot != it->second.ballot ||
      !Count(it->second, from, accepted.vote, accepted.highest, accepted.quarantine_left_ms)) {
    ++stats_.stale_replies;
    return;
  }
  Round& round = it->second;
  if (round.fast && !round.own_accept_sent &&
      round.tally.yes_count() + 1 >= round.tally.majority()) {
    // With this member's own, a majority: its register may take the write.
    round.own_accept_sent = true;
    Message own{options_.self, options_.self, round.accept};
    own.epoch = round.epoch;
    outbox->push_back(std::move(own));
  }
  if (round.tally.Reached() || (options_.broken.success_without_majority && round.tally.yes_count() > 0)) {
    Completed(accepted.round_id, round, now, outbox);
  } else if (round.tally.Impossible()) {
    Retry(accepted.round_id, round, now, outbox);
  }
  StartQueued(now, outbox);
}

std::optional<WriteRequest> Coordinator::RollbackOf(const Round& round) {
  // Only a fresh grant is undone: a renewal's token is one the client was
  // already told it holds.
  if (round.phase != Phase::kAccept || round.request.op != WriteOp::kLock ||
      !OwnGrant(round, round.ballot, round.accept.token)) {
    return std::nullopt;
  }
  WriteRequest undo;
  undo.op = WriteOp::kRollback;
  undo.key = round.accept.key;
  undo.rollback_ballot = round.ballot;
  return undo;
}

std::string Coordinator::QuarantineDetail(int64_t quarantine_left_ms) {
  if (quarantine_left_ms <= 0) {
    return "members are starting or restarted without their state: they are still asking their "
           "peers for token counters and ballots (or whether the cluster is new) before they vote";
  }
  return "members are in restart quarantine for another " +
         std::to_string(quarantine_left_ms) + " ms";
}

void Coordinator::Completed(uint64_t round_id, Round& round, Time now,
                            std::vector<Message>* outbox) {
  const Accept& accept = round.accept;
  if (GrantsLease(round.request.op) &&
      !RoundLeaseStillValid(accept.ttl_ms, options_.drift, now.mono_ms - round.sent_ms)) {
    ++stats_.grants_too_late;
    std::optional<WriteRequest> undo = RollbackOf(round);
    Finish(round_id, WriteOutcome::kNoQuorum, 0,
           "the lease ran out before a majority accepted it");
    if (undo) Submit(std::move(*undo), now, outbox);
    return;
  }
  // Members that have not accepted learn the chosen value.
  const Learn learn{accept.key,   accept.ballot, accept.held, accept.owner,
                    accept.token, accept.ttl_ms, accept.carry_from};
  // Learners hear of every chosen value too (they never vote).
  ForEachMember(round.tally.voters() | membership_.learners, [&](MemberId member) {
    if (round.tally.SaidYes(member)) return;
    Message message{options_.self, member, {}};
    message.epoch = round.epoch;
    message.body = learn;
    outbox->push_back(std::move(message));
  });
  Finish(round_id, WriteOutcome::kDone, accept.token, {});
}

void Coordinator::Tick(Time now, std::vector<Message>* outbox) {
  std::vector<uint64_t> due;
  for (const auto& [round_id, round] : rounds_) {
    const int64_t at_ms = round.phase == Phase::kBackoff ? round.retry_at_ms : round.deadline_ms;
    if (at_ms <= now.mono_ms) due.push_back(round_id);
  }
  std::sort(due.begin(), due.end());  // Deterministic order for the simulator.
  for (const uint64_t round_id : due) {
    auto it = rounds_.find(round_id);
    if (it == rounds_.end()) continue;
    Round& round = it->second;
    if (round.phase == Phase::kBackoff) {
      Round moved = std::move(round);
      rounds_.erase(it);
      StartAttempt(next_round_id_++, std::move(moved), now, outbox);
      continue;
    }
    TimeOut(round_id, round, now, outbox);
  }
  StartQueued(now, outbox);
}

bool Coordinator::TimedOut(uint64_t round_id, Round& round, Time now, std::vector<Message>* outbox) {
  // A reply read after the attempt's deadline (its coordinator was paused,
  // or a long loop turn) ends the attempt as its timer would have: no
  // commit, own commit or Learn is sent after a round's timeout, which is
  // what bounds how long an older state can live (CLUSTER-SAFETY.md).
  if (round.phase == Phase::kBackoff || now.mono_ms < round.deadline_ms) return false;
  TimeOut(round_id, round, now, outbox);
  StartQueued(now, outbox);
  return true;
}

void Coordinator::TimeOut(uint64_t round_id, Round& round, Time now, std::vector<Message>* outbox) {
  if (round.phase == Phase::kPromise && round.outvoted && !round.quarantined &&
      round.attempt + 1 < kRoundAttemptsMax) {
    // A member refused for a higher ballot, and the one whose answer would
    // have decided never came (it is down). Nothing was accepted at this
    // ballot, and the next one is above what the refusal showed: a retry
    // can win. (With a member down in a three-member cluster, every duel,
    // and the first write after members fell back to their wall-clock
    // floors, would otherwise end in NOQUORUM.)
    ++stats_.rounds_retried;
    ++round.attempt;
    Round moved = std::move(round);
    rounds_.erase(round_id);
    StartAttempt(next_round_id_++, std::move(moved), now, outbox);
    return;
  }
  ++stats_.rounds_timed_out;
  // A grant that may have reached some members is rolled back.
  std::optional<WriteRequest> undo = RollbackOf(round);
  if (round.quarantined) {
    Finish(round_id, WriteOutcome::kTryAgain, 0, QuarantineDetail(round.quarantine_left_ms));
  } else {
    Finish(round_id, WriteOutcome::kNoQuorum, 0, DescribeAnswers(round));
  }
  if (undo) Submit(std::move(*undo), now, outbox);
}

std::optional<int64_t> Coordinator::NextWakeMs() const {
  std::optional<int64_t> next;
  for (const auto& [round_id, round] : rounds_) {
    const int64_t at_ms = round.phase == Phase::kBackoff ? round.retry_at_ms : round.deadline_ms;
    if (!next || at_ms < *next) next = at_ms;
  }
  return next;
}

std::string Coordinator::DescribeAnswers(const Round& round) const {
  return std::to_string(round.tally.answered_count()) + " of " +
         std::to_string(round.tally.members_count()) + " members answered, " +
         std::to_string(round.tally.yes_count()) + " agreed; a majority is " +
         std::to_string(round.tally.majority());
}

void Coordinator::Finish(uint64_t round_id, WriteOutcome outcome, uint64_t token,
                         std::string detail) {
  const auto it = rounds_.find(round_id);
  CHECK(it != rounds_.end());
  const uint64_t request_id = it->second.request.request_id;
  keys_done_.push_back(std::move(it->second.request.key));
  rounds_.erase(it);
  if (request_id != 0) {
    results_.push_back({request_id, outcome, token, results_holder_remaining_ms_, std::move(detail)});
  }
  results_holder_remaining_ms_ = 0;
}

void Coordinator::TakeResults(std::vector<WriteResult>* out) {
  out->insert(out->end(), std::make_move_iterator(results_.begin()),
              std::make_move_iterator(results_.end()));
  results_.clear();
}

}  // namespace lockerd::cluster
