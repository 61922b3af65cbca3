// Membership change at one member (CLUSTER-SAFETY.md, "Membership change";
// membership_change.h for the requests): the configuration register's
// acceptor, the change a member coordinates, and the catch-up it runs when
// another member settles a change.
//
// A change from configuration C (epoch e) to C' (epoch e+1, one voter
// apart) goes:
//   1. choose: a Paxos round on the configuration register among C's voters
//      writes {C', previous voters of C, unsettled};
//   2. install: every member of C and C' is sent C' and adopts it; from then
//      on it votes in no round of epoch e (Node::CheckEpoch);
//   3. catch up: a majority of C's voters, each once it has adopted C', writes
//      every key it holds again under C' (WriteOp::kCarry) and reports its
//      token counter and highest ballot;
//   4. raise floors: a majority of C''s voters raise theirs to the largest
//      reported;
//   5. settle: a round among C''s voters writes {C', ..., settled}.
// Only a settled configuration may be changed again (step 1 of the next
// change settles the last one first), so rounds of at most two adjacent
// configurations can ever be in flight, and any majority of one meets any
// majority of the other.
#include <algorithm>
#include <bit>
#include <string>
#include <utility>

#include "cluster/node.h"

namespace lockerd::cluster {
namespace {

// Catch-up writes one member keeps in flight at once.
constexpr size_t kCatchUpInFlight = 256;
// Failed catch-up writes (each written again) after which a run ends.
constexpr uint64_t kCatchUpFailuresMax = 4 * kCatchUpInFlight;
// Catch-up writes' request ids: far above any the server gives.
constexpr uint64_t kCatchUpRequestBit = uint64_t{1} << 62;

std::string EpochText(uint64_t epoch) { return "epoch " + std::to_string(epoch); }

}  // namespace

void Node::NoteMembershipState() {
  MembershipState now_state = membership_state_;
  now_state.adopted = membership_;
  if (now_state != membership_state_) {
    membership_state_ = now_state;
    membership_state_changed_ = true;
  }
}

void Node::OnConfigPrepare(MemberId from, const ConfigPrepare& prepare) {
  ConfigPromise reply;
  reply.round_id = prepare.round_id;
  reply.ballot = prepare.ballot;
  MembershipState& state = membership_state_;
  if (recovery_.recovering()) {
    // Its register may be lost (a lost dir): recovered from the others
    // first (OnSyncReply).
    reply.vote = Vote::kQuarantined;
  } else if (prepare.ballot > state.promised && prepare.ballot > state.accepted) {
    state.promised = prepare.ballot;
    membership_state_changed_ = true;
    reply.highest = prepare.ballot;
  } else {
    reply.vote = Vote::kNo;
    reply.highest = std::max(state.promised, state.accepted);
  }
  reply.accepted = state.accepted;
  reply.value = state.value;
  pending_.push_back({options_.self, from, reply});
}

void Node::OnConfigAccept(MemberId from, const ConfigAccept& accept) {
  ConfigAccepted reply;
  reply.round_id = accept.round_id;
  reply.ballot = accept.ballot;
  MembershipState& state = membership_state_;
  if (recovery_.recovering()) {
    reply.vote = Vote::kQuarantined;
  } else if (accept.ballot >= state.promised && accept.ballot >= state.accepted &&
             accept.value.membership.Valid()) {
    state.promised = accept.ballot;
    state.accepted = accept.ballot;
    state.value = accept.value;
    membership_state_changed_ = true;
    reply.highest = accept.ballot;
  } else {
    reply.vote = Vote::kNo;
    reply.highest = std::max(state.promised, state.accepted);
  }
  pending_.push_back({options_.self, from, reply});
}

void Node::ChangeMembership(const MembershipRequest& request, Time now) {
  if (membership_.epoch == 0) {
    alone_results_.push_back({request.request_id, WriteOutcome::kTryAgain, 0, 0,
                              "this member has not learned the cluster's configuration yet (it is joining)"});
    return;
  }
  if (change_) {
    alone_results_.push_back({request.request_id, WriteOutcome::kRefused, 0, 0,
                              "a membership change is already in progress on this member (" +
                                  EpochText(membership_.epoch) + ")"});
    return;
  }
  change_ = ChangeRound();
  change_->request = request;
  change_->applied = request.kind == MembershipRequest::Kind::kSettle;
  StartConfigRound(now);
  DeliverLocal(now);
}

void Node::StartConfigRound(Time now) {
  ChangeRound& change = *change_;
  change.phase = ChangeRound::Phase::kPrepare;
  change.round_id = next_config_round_id_++;
  change.ballot = coordinator_.TakeBallot();
  change.epoch = membership_.epoch;
  change.tally = QuorumTally::Of(membership_.voters);
  change.found_set = false;
  change.proposing_own = false;
  change.found_ballot = {};
  change.found = {};
  change.deadline_ms = now.mono_ms + options_.round_timeout_ms;
  ForEachMember(membership_.voters, [&](MemberId member) {
    Message message{options_.self, member, ConfigPrepare{change.round_id, change.ballot}};
    message.epoch = change.epoch;
    pending_.push_back(std::move(message));
  });
}

void Node::OnConfigPromise(MemberId from, const ConfigPromise& promise, Time now) {
  if (!change_ || change_->phase != ChangeRound::Phase::kPrepare || promise.round_id != change_->round_id ||
      promise.ballot != change_->ballot) {
    return;
  }
  ChangeRound& change = *change_;
  if (promise.vote != Vote::kYes) {
    coordinator_.RaiseBallot(promise.highest);
    if (change.tally.RecordNo(from) && change.tally.Impossible()) {
      RetryConfigRound(now, promise.vote == Vote::kStaleEpoch    ? "a newer configuration exists"
                            : promise.vote == Vote::kQuarantined ? "voters are recovering their state"
                                                                 : "pre-empted by another change");
    }
    return;
  }
  if (!change.tally.RecordYes(from)) return;
  // The register's value: the highest accepted; at equal ballots (never
  // written: every member's first value) the newest configuration.
  if (!change.found_set || promise.accepted > change.found_ballot ||
      (promise.accepted == change.found_ballot &&
       promise.value.membership.epoch > change.found.membership.epoch)) {
    change.found_set = true;
    change.found_ballot = promise.accepted;
    change.found = promise.value;
  }
  if (change.tally.Reached()) DecideConfig(now);
}

void Node::DecideConfig(Time now) {
  ChangeRound& change = *change_;
  const ConfigValue& found = change.found;
  std::string why;
  if (found.membership.epoch < membership_.epoch) {
    // A majority of this member's configuration has not accepted it: it
    // was never chosen there (cannot happen with the rules kept).
    return FinishChange(WriteOutcome::kNoQuorum, "the configuration register is behind " +
                                                     EpochText(membership_.epoch));
  }
  if (!found.settled && found.membership.epoch == change.settled_epoch) {
    // Caught up and floors raised: record it settled.
    change.proposing = found;
    change.proposing.settled = true;
  } else if (!found.settled || found.membership.epoch > membership_.epoch) {
    // A change not yet settled (maybe not yet chosen: accepted by a
    // minority): chosen again as it is, then settled.
    change.proposing = found;
  } else if (!change.applied) {
    const std::optional<Membership> next = ApplyMembershipRequest(found.membership, change.request, &why);
    if (!next) return FinishChange(WriteOutcome::kRefused, why);
    change.proposing = {*next, found.membership.voters, /*settled=*/false};
    change.proposing_own = true;
    if (options_.broken.change_without_settling) change.proposing.settled = true;
  } else {
    return FinishChange(WriteOutcome::kDone, {});
  }
  change.phase = ChangeRound::Phase::kAccept;
  change.tally = QuorumTally::Of(change.tally.voters());
  // Under the epoch of the round's promises, whatever this member adopted
  // since: the tally counts that configuration's voters.
  ForEachMember(change.tally.voters(), [&](MemberId member) {
    Message message{options_.self, member, ConfigAccept{change.round_id, change.ballot, change.proposing}};
    message.epoch = change.epoch;
    pending_.push_back(std::move(message));
  });
  (void)now;
}

void Node::OnConfigAccepted(MemberId from, const ConfigAccepted& accepted, Time now) {
  if (!change_ || change_->phase != ChangeRound::Phase::kAccept || accepted.round_id != change_->round_id ||
      accepted.ballot != change_->ballot) {
    return;
  }
  ChangeRound& change = *change_;
  if (accepted.vote != Vote::kYes) {
    coordinator_.RaiseBallot(accepted.highest);
    if (change.tally.RecordNo(from) && change.tally.Impossible()) {
      RetryConfigRound(now, "pre-empted by another change");
    }
    return;
  }
  if (change.tally.RecordYes(from) && change.tally.Reached()) ConfigChosen(now);
}

void Node::ConfigChosen(Time now) {
  ChangeRound& change = *change_;
  const ConfigValue chosen = change.proposing;
  AdoptMembership(chosen.membership, now);  // When newer than this member's.
  if (change.proposing_own) change.applied = true;
  // Everyone in the old and the new configuration hears of it (a member
  // that left learns it is out).
  ForEachMember((chosen.membership.members() | chosen.previous_voters) & ~(uint32_t{1} << options_.self),
                [&](MemberId member) {
                  pending_.push_back({options_.self, member, Configuration{chosen.membership}});
                });
  change.attempt = 0;
  if (!chosen.settled) {
    change.settling = chosen;
    return StartSettle(now);
  }
  if (change.applied) return FinishChange(WriteOutcome::kDone, {});
  StartConfigRound(now);  // Settled the last change: now this request's.
}

void Node::StartSettle(Time now) {
  ChangeRound& change = *change_;
  change.phase = ChangeRound::Phase::kCatchUp;
  change.nonce = (options_.incarnation << 20) + ++change_nonces_;
  change.nonce &= 0x7fff'ffff'ffff'ffffull;  // The peer codecs' range.
  change.caught_up = 0;
  change.recovering = 0;
  change.counter_max = 0;
  change.highest_max = {};
  change.floors_raised = 0;
  change.deadline_ms = now.mono_ms + 20 * options_.round_timeout_ms;
  SendSettleMessages(now);
}

void Node::SendSettleMessages(Time now) {
  ChangeRound& change = *change_;
  change.resend_at_ms = now.mono_ms + options_.round_timeout_ms;
  const ConfigValue& settling = change.settling;
  if (change.phase == ChangeRound::Phase::kCatchUp) {
    ForEachMember(settling.previous_voters & ~change.caught_up, [&](MemberId member) {
      // The configuration first: a member answers only once it adopted it.
      if (member != options_.self) pending_.push_back({options_.self, member, Configuration{settling.membership}});
      pending_.push_back({options_.self, member, CatchUp{change.nonce}});
    });
  } else {
    ForEachMember(settling.membership.voters & ~change.floors_raised, [&](MemberId member) {
      if (member != options_.self) pending_.push_back({options_.self, member, Configuration{settling.membership}});
      pending_.push_back({options_.self, member, RaiseFloors{change.nonce, change.counter_max, change.highest_max}});
    });
  }
}

void Node::OnCaughtUp(MemberId from, const CaughtUp& reply, Time now) {
  if (!change_ || change_->phase != ChangeRound::Phase::kCatchUp || reply.nonce != change_->nonce ||
      !Membership::Has(change_->settling.previous_voters, from)) {
    return;
  }
  ChangeRound& change = *change_;
  const uint32_t bit = uint32_t{1} << from;
  change.deadline_ms = now.mono_ms + 20 * options_.round_timeout_ms;  // Progress.
  if (reply.recovering) {
    change.recovering |= bit;  // Its empty memory covers nothing; asked again later.
    return;
  }
  change.recovering &= ~bit;
  change.caught_up |= bit;
  change.counter_max = std::max(change.counter_max, reply.token_counter);
  change.highest_max = std::max(change.highest_max, reply.highest);
  const auto old_voters = static_cast<size_t>(std::popcount(change.settling.previous_voters));
  if (static_cast<size_t>(std::popcount(change.caught_up)) < MajorityOf(old_voters)) return;
  change.phase = ChangeRound::Phase::kFloors;
  SendSettleMessages(now);
}

void Node::OnFloorsRaised(MemberId from, const FloorsRaised& reply, Time now) {
  if (!change_ || change_->phase != ChangeRound::Phase::kFloors || reply.nonce != change_->nonce ||
      !change_->settling.membership.IsVoter(from)) {
    return;
  }
  ChangeRound& change = *change_;
  change.floors_raised |= uint32_t{1} << from;
  if (static_cast<size_t>(std::popcount(change.floors_raised)) < change.settling.membership.majority()) return;
  change.settled_epoch = change.settling.membership.epoch;
  StartConfigRound(now);
}

void Node::RetryConfigRound(Time now, const std::string& why) {
  ChangeRound& change = *change_;
  if (++change.attempt >= kRoundAttemptsMax) {
    return FinishChange(WriteOutcome::kNoQuorum, "the configuration round failed " +
                                                     std::to_string(kRoundAttemptsMax) + " times: " + why);
  }
  change.phase = ChangeRound::Phase::kBackoff;
  // Rival changes back off over a window that grows, as writes do.
  change.resend_at_ms = now.mono_ms + 1 + static_cast<int64_t>((options_.seed ^ change.round_id) %
                                                                 (10u << std::min(change.attempt, 6)));
}

void Node::FinishChange(WriteOutcome outcome, std::string detail) {
  if (change_->request.request_id != 0) {
    alone_results_.push_back({change_->request.request_id, outcome, 0, 0, std::move(detail)});
  }
  change_.reset();
}

void Node::TickMembership(Time now) {
  PumpCatchUp(now);
  if (!change_) return;
  ChangeRound& change = *change_;
  switch (change.phase) {
    case ChangeRound::Phase::kPrepare:
    case ChangeRound::Phase::kAccept:
      if (now.mono_ms >= change.deadline_ms) {
        RetryConfigRound(now, std::to_string(change.tally.answered_count()) + " of " +
                                  std::to_string(change.tally.members_count()) + " voters answered");
      }
      break;
    case ChangeRound::Phase::kBackoff:
      if (now.mono_ms >= change.resend_at_ms) StartConfigRound(now);
      break;
    case ChangeRound::Phase::kCatchUp:
    case ChangeRound::Phase::kFloors:
      if (now.mono_ms >= change.deadline_ms) {
        const bool catching_up = change.phase == ChangeRound::Phase::kCatchUp;
        return FinishChange(
            WriteOutcome::kNoQuorum,
            EpochText(change.settling.membership.epoch) + " is chosen but not settled: " +
                (catching_up ? std::to_string(std::popcount(change.caught_up)) + " of " +
                                   std::to_string(std::popcount(change.settling.previous_voters)) +
                                   " old voters caught up"
                             : std::to_string(std::popcount(change.floors_raised)) + " of " +
                                   std::to_string(change.settling.membership.voter_count()) +
                                   " new voters raised their floors") +
                "; the next change settles it first");
      }
      if (now.mono_ms >= change.resend_at_ms) SendSettleMessages(now);
      break;
  }
}

void Node::OnCatchUp(MemberId from, const CatchUp& request, uint64_t epoch, Time now) {
  // Only once this member has adopted the change's configuration: what it
  // reports must cover every round of the one before (CheckEpoch asked the
  // sender for it; the sender asks again).
  if (epoch > membership_.epoch) return;
  if (recovery_.lost_memory() || acceptor_.Quarantined(now.mono_ms)) {
    // Its registers may be empty (memory lost; until its quarantine ends,
    // what it held may still be live elsewhere only): it holds nothing a
    // settler may count on.
    pending_.push_back({options_.self, from, CaughtUp{request.nonce, /*recovering=*/true, 0, {}}});
    return;
  }
  // One run per configuration adopted: a run that began under this epoch
  // or a newer one (after adopting it) serves every settler that asks.
  if (catch_up_ && catch_up_->epoch >= epoch) {
    if (catch_up_->done) {
      pending_.push_back({options_.self, from, CaughtUp{request.nonce, false, acceptor_.token_counter(), HighestBallot()}});
    } else if (std::find(catch_up_->askers.begin(), catch_up_->askers.end(), std::pair{from, request.nonce}) ==
               catch_up_->askers.end()) {
      catch_up_->askers.emplace_back(from, request.nonce);  // Answered when done.
    }
    return;
  }
  catch_up_ = CatchUpRun();
  catch_up_->epoch = membership_.epoch;
  catch_up_->askers.emplace_back(from, request.nonce);
  catch_up_->first_id = next_catch_up_id_ + 1;
  // Every register, free ones too: an acknowledged release must stay so.
  for (size_t slot = table_.slot_limit(); slot-- > 0;) {
    if (table_.RegisterAt(slot) != nullptr) catch_up_->keys.emplace_back(table_.KeyAt(slot)->view());
  }
  if (options_.broken.change_without_settling) catch_up_->keys.clear();
  PumpCatchUp(now);
}

void Node::PumpCatchUp(Time now) {
  if (!catch_up_ || catch_up_->done) return;
  CatchUpRun& run = *catch_up_;
  while (run.in_flight < kCatchUpInFlight && !run.keys.empty()) {
    WriteRequest request;
    request.request_id = kCatchUpRequestBit | ++next_catch_up_id_;
    request.op = WriteOp::kCarry;
    request.key = std::move(run.keys.back());
    run.keys.pop_back();
    // A member alone (its configuration shrank to itself) is its own
    // majority: its registers are caught up as they are.
    if (membership_.Alone(options_.self)) continue;
    ++run.in_flight;
    run.writing.emplace(request.request_id, request.key);
    coordinator_.Submit(std::move(request), now, &pending_);
  }
  if (run.in_flight == 0 && run.keys.empty()) {
    run.done = true;
    for (const auto& [asker, nonce] : run.askers) {
      pending_.push_back({options_.self, asker, CaughtUp{nonce, false, acceptor_.token_counter(), HighestBallot()}});
    }
  }
}

void Node::CollectResults(Time now) {
  std::vector<WriteResult> results;
  coordinator_.TakeResults(&results);
  bool pump = false;
  for (WriteResult& result : results) {
    if ((result.request_id & kCatchUpRequestBit) == 0) {
      coordinator_results_.push_back(std::move(result));
      continue;
    }
    // Only this run's writes count (an abandoned run's may still end).
    if (!catch_up_ || (result.request_id & ~kCatchUpRequestBit) < catch_up_->first_id) continue;
    CatchUpRun& run = *catch_up_;
    --run.in_flight;
    pump = true;
    const auto key = run.writing.find(result.request_id);
    if (key == run.writing.end()) continue;
    if (result.outcome != WriteOutcome::kDone) {
      // No majority in time: written again later; a run that keeps
      // failing ends, and the settler's next request starts another.
      if (++run.failures > kCatchUpFailuresMax) {
        catch_up_.reset();
        continue;
      }
      run.keys.push_back(std::move(key->second));
    }
    run.writing.erase(key);
  }
  if (pump) PumpCatchUp(now);
}

void Node::OnRaiseFloors(MemberId from, const RaiseFloors& request, uint64_t epoch) {
  if (epoch > membership_.epoch) return;  // Adopt the configuration first.
  // Every register too, not only those created from now on: a key this
  // member holds an old state of must refuse a ballot below one the old
  // configuration used on it elsewhere (a later round's majority may meet
  // none of the members that saw that ballot).
  acceptor_.RaiseTokenCounter(request.token_counter);
  table_.RaisePromises(request.highest);
  coordinator_.RaiseBallot(request.highest);
  pending_.push_back({options_.self, from, FloorsRaised{request.nonce}});
}

}  // namespace lockerd::cluster
