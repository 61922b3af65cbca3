// Coordinator: the one-round-trip write (CLUSTER-SAFETY.md, "One-round-trip
// writes"), which skips phase 1 when this member's own register shows the
// write safe to send so. Only the decision to try it and its sending live
// here; its replies are counted as any round's (coordinator.cc), and a
// refusal runs the full round (Coordinator::Retry).
#include <bit>

#include "cluster/coordinator.h"
#include "cluster/decision.h"
#include "cluster/fencing.h"
#include "cluster/lease_math.h"

namespace lockerd::cluster {

// One round trip instead of two. Phase 1 would tell the coordinator the
// key's register. When this member's own register shows that this
// coordinator (in this run) wrote the key last, at ballot b, that nothing
// is promised above b, and that the lease is live with time to spare, the
// write is decided from that register and sent straight to phase 2 at
// b.NextStep(): the ballot right after b, with no ballot of any member
// between them. That is what makes it a proposal Paxos allows without
// phase 1 (CLUSTER-SAFETY.md, "One-round-trip writes"): any value chosen
// below the new ballot was chosen at b or below, and b's own proposal
// already carried it on, so a proposal derived from b's value carries it
// on too. Only this member proposes at b's steps (b is its ballot), once
// each: its own register promises the new step as the write is sent, so
// no later write starts from b again. Members answer it like any commit:
// one that promised or accepted a higher ballot refuses, and the write
// then runs a full round at once (Retry). Only writes that keep the token
// go this way (RELEASE, DEL, EXTEND, LOCK by the holder, UPDATE): a new
// token needs the others' counters.
//
// Two limits keep such a write from prolonging a state that a later write
// has superseded on a majority this member did not hear from
// (CLUSTER-SAFETY.md, "How long an older state can live"):
// - this member's own register takes the write only once a majority less
//   one of the others accepted it, so its register (the base of its next
//   one-round-trip write) only ever holds what a full round or a chosen
//   write put there;
// - a lease it grants ends within max-lease-ms of when this member applied
//   the base, as the base's own lease could have: with the commit's age
//   limit L, (now - applied) + L + ttl <= max-lease-ms.
bool Coordinator::TryFastAttempt(uint64_t round_id, Round& round, Time now,
                                 std::vector<Message>* outbox) {
  if (round.fast_tried || round.attempt > 0 || !local_view_ || !local_promise_ ||
      membership_.voter_count() == 1 || !membership_.IsVoter(options_.self) ||
      round.request.op == WriteOp::kRollback || round.request.op == WriteOp::kCarry ||
      first_own_round_ == 0 ||
      membership_.voter_count() -
              static_cast<size_t>(std::popcount(unreachable_ & membership_.voters)) <
          membership_.majority()) {
    return false;
  }
  LocalRegister local;
  if (!local_view_(round.request.key, now, &local)) return false;
  // Its own ballot: then the register holds the last step this member used
  // on the key (its own accepts apply here as they are sent). Taken in this
  // run, too, to keep that argument within one run: after a clean restart
  // the first ballot is above every restored one, and after a crash the
  // registers start empty.
  const Ballot& from = local.accepted;
  if (from.member != options_.self || from.round < first_own_round_ ||
      from.step == UINT32_MAX || local.promised != from || !local.lease.held) {
    return false;
  }
  // The other members started the lease later than this one, but their
  // clocks may run faster: with this much left here it is live on all of
  // them, so the decision is the one a full round would make.
  if (local.lease.remaining_ms <= FastWriteMarginMs(options_.drift, options_.max_lease_ms)) {
    return false;
  }
  const Decision decision =
      DecideWrite({round.request, local.lease, from, 0, FloorWallMs(now.wall_ms, options_.broken),
                   options_.drift, options_.max_lease_ms});
  if (decision.kind != Decision::Kind::kCommit ||
      (decision.held && decision.token != local.lease.token)) {
    return false;
  }
  if (decision.held && (now.mono_ms - local.written_ms) + MessageAgeMaxMs(options_.round_timeout_ms) +
                               decision.ttl_ms > options_.max_lease_ms) {
    return false;
  }
  ++stats_.fast_rounds;
  round.ballot = options_.broken.fast_write_fresh_ballot ? TakeBallot() : from.NextStep();
  if (local_promise_) local_promise_(round.request.key, round.ballot, now);
  round.fast = true;
  round.own_accept_sent = false;
  round.fast_tried = true;
  round.chosen_set = true;
  round.chosen_ballot = from;
  round.chosen = local.lease;
  SendAccepts(round_id, round, decision, outbox);
  return true;
}

}  // namespace lockerd::cluster
