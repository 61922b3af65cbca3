// Coordinator: what a pre-empted write does next. Whether and when it
// retries (Retry: give up, wait for a quarantine, back off), and what a
// retry decides from the register it finds, given that its earlier
// attempts' accepts may have taken effect (DecideAttempt, CarryOn,
// EarlierAttemptReleased). The rules of a write on a register are
// decision.cc's; this file only chooses which of them a retry applies.
#include <algorithm>
#include <random>
#include <string>
#include <utility>

#include "cluster/backoff.h"
#include "cluster/coordinator.h"
#include "cluster/decision.h"
#include "cluster/fencing.h"
#include "cluster/lease_math.h"
#include "cluster/limits.h"
#include "cluster/siphash.h"

namespace lockerd::cluster {

Decision Coordinator::DecideAttempt(const Round& round, Time now) const {
  const LeaseView& found = round.chosen;
  if (round.request.op == WriteOp::kCarry) {
    // Whatever the highest accepted state is, written again at this
    // ballot; a key no member has needs nothing.
    if (!found.held && round.chosen_ballot.IsZero()) {
      Decision nothing;
      nothing.kind = Decision::Kind::kNothing;
      return nothing;
    }
    return CarryOn(round);
  }
  const DecisionInput input{round.request, found, round.chosen_ballot, round.counter_max,
                            FloorWallMs(now.wall_ms, options_.broken), options_.drift, options_.max_lease_ms};
  if (!round.accepts_sent || round.request.op == WriteOp::kRollback ||
      options_.broken.retry_forgets_its_accepts) {
    return DecideWrite(input);
  }
  // Its own fresh grant, carried on by a rival round: the lease is this
  // request's, whatever the request's rule for a held key (SET NX's
  // included). It is committed again at this ballot, as a renewal.
  if (round.request.op == WriteOp::kLock && found.held && OwnGrant(round, round.chosen_ballot, found.token)) {
    WriteRequest as_holder = round.request;
    as_holder.only_if_free = false;
    return DecideWrite({as_holder, found, round.chosen_ballot, round.counter_max, input.wall_ms,
                        options_.drift, options_.max_lease_ms});
  }
  const bool same_lease = found.held ? round.acted_on_held && found.token == round.acted_on_token
                                     : !round.acted_on_held;
  if (same_lease || !round.acted_on_held) return DecideWrite(input);
  // The lease the earlier accepts acted on has ended since (by them, or
  // otherwise): what is there now is not this request's to end or renew.
  // Where the request is answered as done, what was found is written again
  // at this ballot, as Paxos re-proposes the highest accepted state: found
  // on a minority only, it could otherwise lose to the ended lease later.
  Decision decision;
  switch (round.request.op) {
    case WriteOp::kDelete:
      // Deleted by the earlier attempt or otherwise ended: done, and the
      // next holder's lease, if any, stays.
      return CarryOn(round);
    case WriteOp::kUpdate:
    case WriteOp::kSwap:
      // Its own hand-over, carried on.
      if (found.held && found.token == round.acted_on_token && found.owner == round.request.new_owner) {
        return CarryOn(round);
      }
      break;
    case WriteOp::kLock:
      // A renewal whose lease ended: as a new LOCK.
      return DecideWrite(input);
    default:
      break;
  }
  // RELEASE (see EarlierAttemptReleased), EXTEND, UPDATE: refused.
  decision.holder_token = found.token;
  decision.holder_remaining_ms = found.remaining_ms;
  return decision;
}

Decision Coordinator::CarryOn(const Round& round) const {
  const LeaseView& found = round.chosen;
  Decision decision;
  decision.kind = Decision::Kind::kCommit;
  decision.held = found.held;
  decision.owner = found.held ? found.owner : std::string();
  decision.token = found.held ? found.token : 0;
  decision.ttl_ms = found.held ? CarriedOverMs(found.remaining_ms, options_.drift, options_.max_lease_ms) : 0;
  decision.carry_from = round.chosen_ballot;
  return decision;
}

bool Coordinator::OwnGrant(const Round& round, Ballot ballot, uint64_t token) {
  return std::find(round.granted.begin(), round.granted.end(), std::pair{ballot, token}) !=
         round.granted.end();
}

bool Coordinator::EarlierAttemptReleased(const Round& round, Time now) const {
  if (round.request.op != WriteOp::kRelease || !round.release_sent) return false;
  if (now.mono_ms >= round.release_lease_floor_ms) return false;  // It may have expired instead.
  // Free at or above the release's ballot, or held by a later holder: the
  // lease ended after the release's accepts went out.
  if (!round.chosen.held) return round.chosen_ballot >= round.release_ballot;
  return round.chosen.owner != round.request.owner && round.chosen.token > round.release_token;
}

void Coordinator::ForgetIfAcceptedNowhere(Round& round) const {
  if (round.phase != Phase::kAccept || round.tally.yes_count() > 0) return;
  // A one-round-trip attempt's own accept goes out only after the others'.
  const size_t refusals_needed =
      round.fast && !round.own_accept_sent ? round.tally.members_count() - 1 : round.tally.members_count();
  if (round.tally.no_count() < refusals_needed) return;
  if (round.accepts_sent && round.accepts_ballot == round.ballot) {
    round.accepts_sent = false;
    round.acted_on_held = false;
    round.acted_on_token = 0;
  }
  if (round.release_sent && round.release_ballot == round.ballot) round.release_sent = false;
  std::erase_if(round.granted, [&](const auto& grant) { return grant.first == round.ballot; });
}

MemberId Coordinator::HomeMember(std::string_view key) const {
  size_t nth = SipHash13(HashKey{}, key) % membership_.voter_count();
  MemberId home = 0;
  ForEachMember(membership_.voters, [&](MemberId member) {
    if (nth-- == 0) home = member;
  });
  return home;
}

void Coordinator::Retry(uint64_t round_id, Round& round, Time now, std::vector<Message>* outbox) {
  ForgetIfAcceptedNowhere(round);
  if (round.fast) {
    // A member's register moved on since this member last wrote the key
    // (or it is in quarantine): not a duel, so the full round starts now.
    ++stats_.fast_rounds_refused;
    Round moved = std::move(round);
    rounds_.erase(round_id);
    StartAttempt(next_round_id_++, std::move(moved), now, outbox);
    return;
  }
  // Members in quarantine cannot vote; if nothing else stood in the way, a
  // retry would meet the same wall. A higher ballot, though, a retry beats.
  if (round.quarantined && !round.outvoted) {
    return Finish(round_id, WriteOutcome::kTryAgain, 0, QuarantineDetail(round.quarantine_left_ms));
  }
  if (round.attempt + 1 >= kRoundAttemptsMax) {
    ++stats_.rounds_gave_up;
    return Finish(round_id, WriteOutcome::kNoQuorum, 0,
                  "pre-empted by other writes to the key " + std::to_string(kRoundAttemptsMax) +
                      " times");
  }
  ++stats_.rounds_retried;
  ++round.attempt;
  // Each key has a home member (by hash; the same on every member). In a
  // duel the home member retries within a millisecond and the others back
  // off over a window four times as long, so duels end with the home
  // member's write instead of dragging on for all of them.
  const bool home = HomeMember(round.request.key) == options_.self;
  const int64_t window_ms = home ? 1 : BackoffWindowMs(round.attempt);
  const int64_t delay_ms = std::uniform_int_distribution<int64_t>(0, window_ms)(rng_);
  if (delay_ms == 0 || membership_.voter_count() == 1) {
    Round moved = std::move(round);
    rounds_.erase(round_id);
    StartAttempt(next_round_id_++, std::move(moved), now, outbox);
    return;
  }
  round.phase = Phase::kBackoff;
  round.retry_at_ms = now.mono_ms + delay_ms;
}

}  // namespace lockerd::cluster
